variable "project_id" {
  type        = string
  description = "GCP project of the load balancer."
}

variable "region" {
  type        = string
  description = "Region of the Cloud Run API service behind the serverless NEG."
}

variable "name" {
  type        = string
  description = "Name prefix of the load balancer's resources."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "domain" {
  type        = string
  description = "Host name served, without the trailing dot (the managed certificate is issued for it)."
  validation {
    condition     = can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.domain))
    error_message = "domain must be a lowercase host name without a trailing dot."
  }
}

variable "api_service_name" {
  type        = string
  description = "Cloud Run API service behind the serverless network endpoint group."
}

variable "security_policy_id" {
  type        = string
  description = "Cloud Armor policy attached to the backend service."
}
