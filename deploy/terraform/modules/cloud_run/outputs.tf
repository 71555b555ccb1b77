output "api_service_name" {
  description = "Name of the API service (the load balancer's serverless NEG points at it)."
  value       = google_cloud_run_v2_service.api.name
}

output "worker_service_name" {
  description = "Name of the Celery worker service."
  value       = google_cloud_run_v2_service.worker.name
}

output "migration_job_name" {
  description = "Name of the migration job the pipeline executes before shifting traffic."
  value       = google_cloud_run_v2_job.migrate.name
}

output "service_account_members" {
  description = "IAM member strings of the workloads' service accounts, by workload (api, worker, migrate)."
  value       = { for workload, account in google_service_account.workload : workload => account.member }
}

output "service_account_emails" {
  description = "E-mail addresses of the workloads' service accounts, by workload; the deployer acts as them."
  value       = { for workload, account in google_service_account.workload : workload => account.email }
}
