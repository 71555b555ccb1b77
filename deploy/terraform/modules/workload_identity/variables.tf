variable "project_id" {
  type        = string
  description = "GCP project of the pool and the deployer service account."
}

variable "name" {
  type        = string
  description = "Name prefix of the pool, provider and deployer account, e.g. abb-staging."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "github_owner" {
  type        = string
  description = "GitHub organisation or user that owns the repository whose workflows may deploy."
  validation {
    condition     = can(regex("^[A-Za-z0-9-]+$", var.github_owner))
    error_message = "github_owner must be a GitHub organisation or user name."
  }
}

variable "github_repository" {
  type        = string
  description = "Name of that repository (without the owner)."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be a repository name without the owner."
  }
}

variable "github_environment" {
  type        = string
  description = "GitHub deployment environment whose jobs get tokens (staging, production); production's needs a reviewer's approval."
  validation {
    condition     = contains(["staging", "production"], var.github_environment)
    error_message = "github_environment must be staging or production."
  }
}

variable "deployer_project_roles" {
  type        = list(string)
  description = "Project roles of the deployer: deploy Cloud Run revisions, run the migration job, scan pushed images, read metrics for the rollout gate."
  default     = ["roles/run.developer", "roles/ondemandscanning.admin", "roles/monitoring.viewer"]
  validation {
    condition     = !anytrue([for role in var.deployer_project_roles : contains(["roles/owner", "roles/editor"], role)])
    error_message = "The deployer gets no basic roles (owner, editor)."
  }
}

variable "terraform_project_roles" {
  type        = list(string)
  description = "Project roles of the account that applies Terraform from the pipeline (GitHub environment <env>-infra, reviewed)."
  default = [
    "roles/artifactregistry.admin",
    "roles/cloudsql.admin",
    "roles/compute.admin",
    "roles/dns.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/iam.workloadIdentityPoolAdmin",
    "roles/logging.configWriter",
    "roles/monitoring.editor",
    "roles/redis.admin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",
    "roles/secretmanager.admin",
    "roles/servicenetworking.networksAdmin",
    "roles/storage.admin",
  ]
  validation {
    condition     = !anytrue([for role in var.terraform_project_roles : contains(["roles/owner", "roles/editor"], role)])
    error_message = "The Terraform account gets named admin roles, not basic roles (owner, editor)."
  }
}
