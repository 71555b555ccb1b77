output "uploads_bucket" {
  description = "Name of the uploads bucket (ABB_GCS_BUCKET)."
  value       = google_storage_bucket.uploads.name
}

output "backups_bucket" {
  description = "Name of the dual-region backups bucket."
  value       = google_storage_bucket.backups.name
}
