variable "project_id" {
  type        = string
  description = "GCP project of the services."
}

variable "region" {
  type        = string
  description = "Region of the API service, the worker and the migration job."
}

variable "name" {
  type        = string
  description = "Name prefix: <name>-api, <name>-worker, <name>-migrate."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "image" {
  type        = string
  description = "Container image by digest (REGION-docker.pkg.dev/PROJECT/REPO/abb@sha256:...); the first deploy only, the pipeline deploys later ones."
  validation {
    condition     = can(regex("^[a-z0-9.-]+/[^@:]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be pinned by digest: <registry>/<path>@sha256:<64 hex digits>."
  }
}

variable "network_id" {
  type        = string
  description = "VPC that the services egress into (Direct VPC egress) to reach Cloud SQL and Memorystore."
}

variable "subnetwork_id" {
  type        = string
  description = "Subnetwork that gives the instances their VPC addresses."
}

variable "cloud_sql_connection_name" {
  type        = string
  description = "Cloud SQL instance PROJECT:REGION:NAME, mounted as a socket under /cloudsql."
}

variable "uploads_bucket" {
  type        = string
  description = "Bucket for uploads (ABB_GCS_BUCKET)."
}

variable "secret_env" {
  type = map(object({
    secret  = string
    version = string
  }))
  description = "Environment variables read from Secret Manager, by name: ABB_SECRET_KEY, ABB_DATABASE_URL, ABB_REDIS_URL, ... Pin versions: Cloud Run reads them at instance start."
  validation {
    condition     = alltrue([for name in keys(var.secret_env) : can(regex("^ABB_[A-Z0-9_]+$", name))])
    error_message = "secret_env keys must be ABB_ environment variable names."
  }
}

variable "migration_secret_names" {
  type        = list(string)
  description = "The subset of secret_env the migration job gets (least privilege: no payment or mail secrets)."
  default     = ["ABB_DATABASE_URL", "ABB_SECRET_KEY"]
}

variable "redis_ca_secret" {
  type        = string
  description = "Secret holding the Memorystore server CA (PEM), mounted at /etc/abb/redis-ca/ca.pem for rediss:// URLs."
}

variable "env" {
  type        = map(string)
  description = "Plain (non-secret) environment variables for all three workloads."
  default     = {}
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
  description = "API service sizing: instances, CPU and memory per instance, requests per instance, uvicorn worker processes (ABB_WORKERS)."
  validation {
    condition     = var.api.min_instances >= 0 && var.api.max_instances >= max(1, var.api.min_instances) && var.api.max_instances <= 100
    error_message = "api needs 0 <= min_instances <= max_instances <= 100 and max_instances >= 1."
  }
  validation {
    condition     = var.api.concurrency >= 1 && var.api.concurrency <= 1000 && var.api.workers >= 1 && var.api.workers <= 8
    error_message = "api.concurrency must be 1-1000 and api.workers 1-8."
  }
}

variable "worker" {
  type = object({
    min_instances = number
    max_instances = number
    cpu           = string
    memory        = string
    concurrency   = number
  })
  description = "Celery worker sizing: instances (always-on CPU), CPU and memory per instance, tasks run at the same time per instance."
  validation {
    condition     = var.worker.min_instances >= 1 && var.worker.max_instances >= var.worker.min_instances && var.worker.max_instances <= 50
    error_message = "worker needs 1 <= min_instances <= max_instances <= 50 (tasks need at least one worker)."
  }
}
