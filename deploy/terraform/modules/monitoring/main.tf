# Google Cloud Monitoring from outside the platform: an uptime check on /health/ready through the load
# balancer (so it also proves DNS, TLS and Cloud Armor), its alert, and log-based metrics from the JSON access
# lines. Prometheus and Alertmanager (deploy/prometheus, deploy/alertmanager) stay the in-depth alerting.
resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.notification_emails)
  project      = var.project_id
  display_name = "${var.name} ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

resource "google_monitoring_uptime_check_config" "ready" {
  project      = var.project_id
  display_name = "${var.name} /health/ready"
  timeout      = "10s"
  period       = "60s"
  http_check {
    path         = "/health/ready"
    port         = 443
    use_ssl      = true
    validate_ssl = true
  }
  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = var.host
    }
  }
}

resource "google_monitoring_alert_policy" "uptime" {
  project      = var.project_id
  display_name = "${var.name} API not ready (uptime check)"
  combiner     = "OR"
  conditions {
    display_name = "/health/ready failing from several regions"
    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.label.check_id=\"${google_monitoring_uptime_check_config.ready.uptime_check_id}\""
      duration        = "120s"
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.host"]
      }
    }
  }
  notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
  alert_strategy {
    auto_close = "1800s"
  }
  documentation {
    content   = "Runbook: docs/runbooks/ApiDown.md"
    mime_type = "text/markdown"
  }
}

# Server errors and slow requests counted from the API's JSON access lines (src/abb/observability/logging.py).
resource "google_logging_metric" "server_errors" {
  project = var.project_id
  name    = "${var.name}-api-5xx"
  filter  = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.api_service_name}\" AND jsonPayload.status>=500"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key        = "revision"
      value_type = "STRING"
    }
  }
  label_extractors = {
    revision = "EXTRACT(resource.labels.revision_name)"
  }
}

resource "google_logging_metric" "payment_failures" {
  project = var.project_id
  name    = "${var.name}-payment-failures"
  filter  = "resource.type=\"cloud_run_revision\" AND jsonPayload.logger=~\"^abb.payments\" AND severity>=ERROR"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}
