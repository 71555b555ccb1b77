output "provider_name" {
  description = "Full provider resource name for google-github-actions/auth (workload_identity_provider)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "deployer_email" {
  description = "Deployer service account (google-github-actions/auth service_account)."
  value       = google_service_account.deployer.email
}

output "deployer_member" {
  description = "IAM member string of the deployer, for grants in other modules."
  value       = google_service_account.deployer.member
}
