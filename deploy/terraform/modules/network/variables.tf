variable "project_id" {
  type        = string
  description = "GCP project that holds the network."
}

variable "region" {
  type        = string
  description = "Region of the subnetwork that Cloud Run egresses through (Direct VPC egress)."
}

variable "name" {
  type        = string
  description = "Name prefix for the VPC and its subnetwork, e.g. abb-staging."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "subnet_cidr" {
  type        = string
  description = "Primary range of the Cloud Run egress subnetwork; Direct VPC egress takes addresses from it (a /24 covers about 100 instances)."
  validation {
    condition     = can(cidrnetmask(var.subnet_cidr)) && tonumber(split("/", var.subnet_cidr)[1]) <= 26
    error_message = "subnet_cidr must be an IPv4 CIDR of /26 or larger."
  }
}

variable "private_service_prefix_length" {
  type        = number
  description = "Prefix length of the range reserved for private services access (Cloud SQL, Memorystore)."
  default     = 20
  validation {
    condition     = var.private_service_prefix_length >= 16 && var.private_service_prefix_length <= 24
    error_message = "private_service_prefix_length must be between 16 and 24."
  }
}
