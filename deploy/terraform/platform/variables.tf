variable "project_id" {
  type        = string
  description = "GCP project of this environment (one project per environment)."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid GCP project id."
  }
}

variable "region" {
  type        = string
  description = "Region of everything regional (EU, close to Italy and acceptable for East Africa)."
  default     = "europe-west1"
  validation {
    condition     = startswith(var.region, "europe-")
    error_message = "region must be a European region: personal data stays in the EU (docs/infrastructure.md)."
  }
}

variable "environment" {
  type        = string
  description = "staging or production; names every resource and selects the GitHub environment allowed to deploy."
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "domain" {
  type        = string
  description = "Host name served by the load balancer, e.g. staging.africabusinessbridge.example."
}

variable "dns_zone_name" {
  type        = string
  description = "Name of the Cloud DNS zone this environment creates."
}

variable "dns_name" {
  type        = string
  description = "Domain of that zone with the trailing dot; domain must be inside it."
}

variable "github_owner" {
  type        = string
  description = "GitHub organisation that owns the repository whose workflows deploy this environment."
}

variable "github_repository" {
  type        = string
  description = "Name of that repository, without the owner."
}

variable "notification_emails" {
  type        = list(string)
  description = "Who the Cloud Monitoring uptime alert e-mails."
}

variable "image" {
  type        = string
  description = "Image by digest for the first deploy; the pipeline deploys every later one."
}

variable "create_registry" {
  type        = bool
  description = "Create the Artifact Registry repository here (staging) rather than pull from another environment's (production promotes the digest staging tested)."
}

variable "registry_readers" {
  type        = map(string)
  description = "Extra IAM members that pull from this environment's registry, by name (production's Cloud Run service agent)."
  default     = {}
}

variable "subnet_cidr" {
  type        = string
  description = "Cloud Run egress subnetwork range."
  default     = "10.10.0.0/24"
}

variable "database" {
  type = object({
    tier                     = string
    high_availability        = bool
    disk_size_gb             = number
    disk_autoresize_limit_gb = number
    max_connections          = number
    backup_retention_count   = number
  })
  description = "Cloud SQL sizing and availability (docs/infrastructure.md: sizing)."
  # Every connection the fleet can open at full scale fits, with 10 spare for operators and the migration job:
  # each API process holds at most 6 (4 request threads + health + metrics), each worker one per task slot + 1.
  validation {
    condition     = var.database.max_connections >= var.api.max_instances * var.api.workers * 6 + var.worker.max_instances * (var.worker.concurrency + 1) + 10
    error_message = "database.max_connections is below what api and worker can open at max_instances (docs/infrastructure.md, sizing)."
  }
}

variable "redis" {
  type = object({
    memory_size_gb    = number
    high_availability = bool
  })
  description = "Memorystore size and tier."
}

variable "api" {
  type = object({
    min_instances = number
    max_instances = number
    cpu           = string
    memory        = string
    concurrency   = number
    workers       = number
  })
  description = "API service sizing (see the cloud_run module)."
}

variable "worker" {
  type = object({
    min_instances = number
    max_instances = number
    cpu           = string
    memory        = string
    concurrency   = number
  })
  description = "Celery worker sizing (see the cloud_run module)."
}

variable "secret_versions" {
  type        = map(string)
  description = "Pinned Secret Manager version of each application secret (ABB_SECRET_KEY, ABB_DATABASE_URL, ...); bump one to roll a secret out with the next deploy."
  validation {
    condition     = alltrue([for version in values(var.secret_versions) : can(regex("^[1-9][0-9]*$", version))])
    error_message = "secret versions must be pinned numbers, not latest."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Cloud Armor per-IP requests per minute before 429."
  default     = 600
}

variable "backup_locations" {
  type        = list(string)
  description = "The dual-region pair of the backups bucket."
  default     = ["EUROPE-WEST1", "EUROPE-WEST4"]
}
