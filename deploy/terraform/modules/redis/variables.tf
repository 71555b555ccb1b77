variable "project_id" {
  type        = string
  description = "GCP project of the instance."
}

variable "region" {
  type        = string
  description = "Region of the instance."
}

variable "name" {
  type        = string
  description = "Instance name, e.g. abb-production-redis."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,39}$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "network_id" {
  type        = string
  description = "VPC with private services access; the instance is reachable only from it."
}

variable "memory_size_gb" {
  type        = number
  description = "Memory in GB: the Celery queues, results and the cache (docs/infrastructure.md sizing)."
  validation {
    condition     = var.memory_size_gb >= 1 && var.memory_size_gb <= 300
    error_message = "memory_size_gb must be between 1 and 300."
  }
}

variable "high_availability" {
  type        = bool
  description = "STANDARD_HA tier (a replica in another zone, automatic failover) when true, BASIC otherwise. Immutable."
}
