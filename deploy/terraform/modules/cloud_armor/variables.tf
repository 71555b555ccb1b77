variable "project_id" {
  type        = string
  description = "GCP project of the security policy."
}

variable "name" {
  type        = string
  description = "Policy name, e.g. abb-production-edge."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,60}$", var.name))
    error_message = "name must be lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Requests per minute one client IP may send before it is throttled with 429."
  validation {
    condition     = var.rate_limit_per_minute >= 60
    error_message = "rate_limit_per_minute must be at least 60."
  }
}

variable "ban_threshold_per_five_minutes" {
  type        = number
  description = "Requests in five minutes past which one client IP is banned for ban_duration_seconds."
  validation {
    condition     = var.ban_threshold_per_five_minutes >= 300
    error_message = "ban_threshold_per_five_minutes must be at least 300."
  }
}

variable "ban_duration_seconds" {
  type        = number
  description = "How long a banned client IP gets 429."
  default     = 600
  validation {
    condition     = var.ban_duration_seconds >= 60 && var.ban_duration_seconds <= 86400
    error_message = "ban_duration_seconds must be between 60 and 86400."
  }
}

variable "waf_sensitivity" {
  type        = number
  description = "Sensitivity of the preconfigured OWASP CRS 3.3 rules (1 = fewest false positives, 4 = all signatures)."
  default     = 1
  validation {
    condition     = var.waf_sensitivity >= 1 && var.waf_sensitivity <= 4
    error_message = "waf_sensitivity must be 1-4."
  }
}
