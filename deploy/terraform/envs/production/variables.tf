variable "project_id" {
  type        = string
  description = "GCP project of this environment."
}

variable "region" {
  type        = string
  description = "Region of everything regional."
  default     = "europe-west1"
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
  description = "Who the uptime alert e-mails (the on-call alias)."
}

variable "image" {
  type        = string
  description = "Image by digest for the first apply; later deploys come from the pipeline."
}

variable "secret_versions" {
  type        = map(string)
  description = "Pinned version of each application secret."
}
