output "load_balancer_ip" {
  description = "Global address of the HTTPS load balancer."
  value       = module.load_balancer.ip_address
}

output "name_servers" {
  description = "Delegate the zone to these at the registrar."
  value       = module.dns.name_servers
}

output "workload_identity_provider" {
  description = "GitHub variable GCP_WORKLOAD_IDENTITY_PROVIDER for this environment."
  value       = module.workload_identity.provider_name
}

output "deployer_service_account" {
  description = "GitHub variable GCP_DEPLOYER_SERVICE_ACCOUNT for this environment."
  value       = module.workload_identity.deployer_email
}

output "planner_service_account" {
  description = "GitHub variable GCP_PLANNER_SERVICE_ACCOUNT (environment <env>-plan)."
  value       = module.workload_identity.planner_email
}

output "terraform_service_account" {
  description = "GitHub variable GCP_TERRAFORM_SERVICE_ACCOUNT (environment <env>-infra)."
  value       = module.workload_identity.terraform_email
}

output "registry" {
  description = "GitHub variable GCP_REGISTRY (only where the registry lives)."
  value       = var.create_registry ? module.artifact_registry[0].repository_url : null
}

output "api_service" {
  description = "GitHub variable CLOUD_RUN_API_SERVICE."
  value       = module.cloud_run.api_service_name
}

output "worker_service" {
  description = "GitHub variable CLOUD_RUN_WORKER_SERVICE."
  value       = module.cloud_run.worker_service_name
}

output "migration_job" {
  description = "GitHub variable CLOUD_RUN_MIGRATION_JOB."
  value       = module.cloud_run.migration_job_name
}

output "database_instance" {
  description = "Cloud SQL instance name."
  value       = module.cloud_sql.instance_name
}

output "uploads_bucket" {
  description = "Uploads bucket name."
  value       = module.storage.uploads_bucket
}

output "backups_bucket" {
  description = "Backups bucket name (the backup and DR jobs write here)."
  value       = module.storage.backups_bucket
}
