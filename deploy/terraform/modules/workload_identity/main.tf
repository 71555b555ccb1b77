# GitHub Actions -> Google Cloud without keys: a workflow job's OIDC token is exchanged for a short-lived
# token of one service account, chosen by the GitHub environment the job runs in:
#   <env>        deployer   deploys Cloud Run revisions and runs the migration job (.github/workflows/pipeline.yml)
#   <env>-plan   planner    read-only, for `terraform plan` on pull requests (.github/workflows/terraform.yml)
#   <env>-infra  terraform  applies Terraform after review (.github/workflows/terraform.yml)
locals {
  repository = "${var.github_owner}/${var.github_repository}"
  identities = {
    deployer  = { environment = var.github_environment, roles = var.deployer_project_roles }
    planner   = { environment = "${var.github_environment}-plan", roles = ["roles/viewer"] }
    terraform = { environment = "${var.github_environment}-infra", roles = var.terraform_project_roles }
  }
  project_bindings = {
    for pair in flatten([
      for identity, spec in local.identities : [for role in spec.roles : { identity = identity, role = role }]
    ]) : "${pair.identity} ${pair.role}" => pair
  }
}

resource "google_iam_workload_identity_pool" "github" {
  project                   = var.project_id
  workload_identity_pool_id = "${var.name}-github"
  display_name              = "GitHub Actions"
  description               = "OIDC tokens of ${local.repository}"
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
  # sub is "repo:OWNER/NAME:environment:ENV" for jobs that declare an environment: another repository, a
  # fork, or a job outside these environments (and so outside their protection rules) gets no token.
  attribute_condition = "assertion.sub == 'repo:${var.github_owner}/${var.github_repository}:environment:${var.github_environment}' || assertion.sub == 'repo:${var.github_owner}/${var.github_repository}:environment:${var.github_environment}-plan' || assertion.sub == 'repo:${var.github_owner}/${var.github_repository}:environment:${var.github_environment}-infra'"
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "github" {
  for_each     = local.identities
  project      = var.project_id
  account_id   = "${var.name}-${each.key}"
  display_name = "GitHub Actions ${each.key} (${each.value.environment})"
}

# Each account is reachable from exactly one GitHub environment's jobs.
resource "google_service_account_iam_member" "github_impersonates" {
  for_each           = local.identities
  service_account_id = google_service_account.github[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/subject/repo:${local.repository}:environment:${each.value.environment}"
}

resource "google_project_iam_member" "github" {
  for_each = local.project_bindings
  project  = var.project_id
  role     = each.value.role
  member   = google_service_account.github[each.value.identity].member
}
