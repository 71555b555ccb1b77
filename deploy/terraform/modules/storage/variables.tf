variable "project_id" {
  type        = string
  description = "GCP project of the buckets."
}

variable "name" {
  type        = string
  description = "Bucket name prefix, globally unique, e.g. abb-production-<project number>."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,48}$", var.name))
    error_message = "name must be 3-49 lowercase letters, digits or hyphens."
  }
}

variable "location" {
  type        = string
  description = "Region of the uploads and access-log buckets, e.g. EUROPE-WEST1."
}

variable "backup_locations" {
  type        = list(string)
  description = "The two regions of the dual-region backups bucket, e.g. [\"EUROPE-WEST1\", \"EUROPE-WEST4\"]."
  validation {
    condition     = length(var.backup_locations) == 2
    error_message = "backup_locations must name exactly two regions."
  }
}

variable "backup_retention_days" {
  type        = number
  description = "Days a backup object cannot be deleted or replaced (bucket retention policy, not locked)."
  default     = 30
  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 365
    error_message = "backup_retention_days must be between 7 and 365."
  }
}

# Maps with fixed keys, not lists: the members are service accounts created in the same apply, unknown at
# plan time, and for_each needs its keys known.
variable "uploads_object_admins" {
  type        = map(string)
  description = "IAM members (serviceAccount:...) that read and write uploads, by a fixed name: the API and the worker."
}

variable "backup_writers" {
  type        = map(string)
  description = "IAM members that create backup objects (the backup job), by a fixed name; they cannot delete or overwrite."
  default     = {}
}
