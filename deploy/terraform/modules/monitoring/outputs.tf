output "uptime_check_id" {
  description = "Id of the /health/ready uptime check."
  value       = google_monitoring_uptime_check_config.ready.uptime_check_id
}

output "notification_channel_ids" {
  description = "Notification channels, for other alert policies."
  value       = [for channel in google_monitoring_notification_channel.email : channel.id]
}
