output "provider_name" {
  description = "Full provider resource name for google-github-actions/auth (workload_identity_provider)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "deployer_email" {
  description = "Deployer service account (GitHub environment <env>)."
  value       = google_service_account.github["deployer"].email
}

output "deployer_member" {
  description = "IAM member string of the deployer, for grants in other modules."
  value       = google_service_account.github["deployer"].member
}

output "planner_email" {
  description = "Read-only account for terraform plan (GitHub environment <env>-plan)."
  value       = google_service_account.github["planner"].email
}

output "terraform_email" {
  description = "Account that applies Terraform (GitHub environment <env>-infra)."
  value       = google_service_account.github["terraform"].email
}
