variable "project_id" {
  type        = string
  description = "GCP project that monitors the platform."
}

variable "name" {
  type        = string
  description = "Prefix of the check, channel and metric names, e.g. abb-production."
}

variable "host" {
  type        = string
  description = "Public host name the uptime check calls on /health/ready (through the load balancer)."
}

variable "notification_emails" {
  type        = list(string)
  description = "Addresses that receive uptime and log-metric alerts (on-call rota alias)."
  validation {
    condition     = length(var.notification_emails) > 0 && alltrue([for address in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "notification_emails needs at least one valid e-mail address."
  }
}

variable "api_service_name" {
  type        = string
  description = "Cloud Run API service whose logs feed the log-based metrics."
}
