variable "project_id" {
  type        = string
  description = "GCP project of the instance."
}

variable "region" {
  type        = string
  description = "Region of the instance; with high availability the standby runs in another zone of it."
}

variable "name" {
  type        = string
  description = "Instance name, e.g. abb-production-pg. Cloud SQL reserves a deleted name for a week."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,60}$", var.name))
    error_message = "name must be lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "network_id" {
  type        = string
  description = "VPC with private services access; the instance gets a private address in it and no public one."
}

variable "tier" {
  type        = string
  description = "Machine type, db-custom-<vCPU>-<MiB> (ENTERPRISE edition), e.g. db-custom-2-7680."
  validation {
    condition     = can(regex("^db-custom-[0-9]+-[0-9]+$", var.tier))
    error_message = "tier must be a db-custom-<vCPU>-<MiB> machine type."
  }
}

variable "high_availability" {
  type        = bool
  description = "REGIONAL availability (a synchronous standby in a second zone, automatic failover) when true."
}

variable "disk_size_gb" {
  type        = number
  description = "Initial SSD size in GB; it grows automatically up to disk_autoresize_limit_gb."
  validation {
    condition     = var.disk_size_gb >= 10
    error_message = "disk_size_gb must be at least 10."
  }
}

variable "disk_autoresize_limit_gb" {
  type        = number
  description = "Ceiling of automatic disk growth in GB; the capacity alert DatabaseSizeFullIn7Days warns before it."
  validation {
    condition     = var.disk_autoresize_limit_gb >= 10
    error_message = "disk_autoresize_limit_gb must be at least 10."
  }
}

variable "backup_retention_count" {
  type        = number
  description = "Daily automated backups kept."
  default     = 14
  validation {
    condition     = var.backup_retention_count >= 7 && var.backup_retention_count <= 365
    error_message = "backup_retention_count must be between 7 and 365."
  }
}

variable "transaction_log_retention_days" {
  type        = number
  description = "Days of write-ahead log kept for point-in-time recovery (1-7 on the ENTERPRISE edition)."
  default     = 7
  validation {
    condition     = var.transaction_log_retention_days >= 1 && var.transaction_log_retention_days <= 7
    error_message = "transaction_log_retention_days must be between 1 and 7 on the ENTERPRISE edition."
  }
}

variable "max_connections" {
  type        = number
  description = "PostgreSQL max_connections; size it for (API instances x pool size) + workers + headroom (docs/infrastructure.md)."
  validation {
    condition     = var.max_connections >= 25 && var.max_connections <= 5000
    error_message = "max_connections must be between 25 and 5000."
  }
}
