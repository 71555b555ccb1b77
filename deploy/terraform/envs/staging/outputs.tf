output "load_balancer_ip" {
  description = "Global address of the HTTPS load balancer."
  value       = module.platform.load_balancer_ip
}

output "name_servers" {
  description = "Delegate the zone to these at the registrar."
  value       = module.platform.name_servers
}

output "github_variables" {
  description = "Values for this GitHub environment's variables (docs/infrastructure.md, step 6)."
  value = {
    GCP_PROJECT                    = var.project_id
    GCP_REGION                     = var.region
    GCP_WORKLOAD_IDENTITY_PROVIDER = module.platform.workload_identity_provider
    GCP_DEPLOYER_SERVICE_ACCOUNT   = module.platform.deployer_service_account
    GCP_PLANNER_SERVICE_ACCOUNT    = module.platform.planner_service_account
    GCP_TERRAFORM_SERVICE_ACCOUNT  = module.platform.terraform_service_account
    CLOUD_RUN_API_SERVICE          = module.platform.api_service
    CLOUD_RUN_WORKER_SERVICE       = module.platform.worker_service
    CLOUD_RUN_MIGRATION_JOB        = module.platform.migration_job
  }
}

output "registry" {
  description = "Image repository URL where this environment holds it."
  value       = module.platform.registry
}
