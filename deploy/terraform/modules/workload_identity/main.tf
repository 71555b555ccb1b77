# GitHub Actions -> Google Cloud without keys: the workflow's OIDC token is exchanged for a short-lived
# token of the deployer service account, only for jobs of one repository running in one GitHub environment.
resource "google_iam_workload_identity_pool" "github" {
  project                   = var.project_id
  workload_identity_pool_id = "${var.name}-github"
  display_name              = "GitHub Actions"
  description               = "OIDC tokens of ${var.github_owner}/${var.github_repository}"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  project                            = var.project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub OIDC"
  attribute_mapping = {
    "google.subject"         = "assertion.sub"
    "attribute.repository"   = "assertion.repository"
    "attribute.environment"  = "assertion.environment"
    "attribute.workflow_ref" = "assertion.job_workflow_ref"
  }
  # sub is "repo:OWNER/NAME:environment:ENV" for jobs that declare an environment: another repository,
  # a fork or a job outside the environment (and so outside its reviewers) gets nothing.
  attribute_condition = "assertion.sub == 'repo:${var.github_owner}/${var.github_repository}:environment:${var.github_environment}'"
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "${var.name}-deployer"
  display_name = "GitHub Actions deployer (${var.github_environment})"
}

resource "google_service_account_iam_member" "github_impersonates_deployer" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/subject/repo:${var.github_owner}/${var.github_repository}:environment:${var.github_environment}"
}

resource "google_project_iam_member" "deployer" {
  for_each = toset(var.deployer_project_roles)
  project  = var.project_id
  role     = each.value
  member   = google_service_account.deployer.member
}
