variable "project_id" {
  type        = string
  description = "GCP project of the repository."
}

variable "region" {
  type        = string
  description = "Region of the Docker repository (same as Cloud Run: no cross-region pulls)."
}

variable "repository_id" {
  type        = string
  description = "Repository name, e.g. abb."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.repository_id))
    error_message = "repository_id must be lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "keep_recent_versions" {
  type        = number
  description = "Most recent image versions always kept (rollback targets); older untagged ones are deleted after 30 days."
  default     = 30
  validation {
    condition     = var.keep_recent_versions >= 5
    error_message = "keep_recent_versions must be at least 5, to keep rollback targets."
  }
}

# Maps with fixed keys: members created in the same apply are unknown at plan time, for_each keys must not be.
variable "writers" {
  type        = map(string)
  description = "IAM members that push images, by a fixed name (the CI deployer)."
}

variable "readers" {
  type        = map(string)
  description = "IAM members that pull images, by a fixed name (the Cloud Run service agents of the projects that run them)."
  default     = {}
}
