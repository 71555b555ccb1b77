output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for Cloud Run's Cloud SQL volume (the socket /cloudsql/<connection_name>)."
  value       = google_sql_database_instance.postgres.connection_name
}

output "instance_name" {
  description = "Instance name, for gcloud sql commands and the monitoring filters."
  value       = google_sql_database_instance.postgres.name
}

output "private_ip_address" {
  description = "The instance's private address in the VPC."
  value       = google_sql_database_instance.postgres.private_ip_address
}

output "database_name" {
  description = "The application's database."
  value       = google_sql_database.abb.name
}
