variable "project_id" {
  type        = string
  description = "GCP project of the managed zone."
}

variable "zone_name" {
  type        = string
  description = "Name of the Cloud DNS managed zone, e.g. abb-production."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.zone_name))
    error_message = "zone_name must be lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "dns_name" {
  type        = string
  description = "The zone's domain with the trailing dot, e.g. africabusinessbridge.example."
  validation {
    condition     = endswith(var.dns_name, ".")
    error_message = "dns_name must end with a dot."
  }
}

variable "records" {
  type        = map(string)
  description = "A records: fully qualified host name (with trailing dot) => IPv4 address."
  validation {
    condition     = alltrue([for host in keys(var.records) : endswith(host, ".")])
    error_message = "record names must end with a dot."
  }
}
