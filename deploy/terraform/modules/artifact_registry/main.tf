# Docker images of the platform, pushed by the pipeline and referenced by digest. Tags are immutable so a
# tag always means one image; a cleanup policy deletes old untagged images but keeps recent versions.
resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:images hold code and no customer data or secrets; Google-managed encryption at rest is enough, and a KMS key would add a failure point to every deploy
  project       = var.project_id
  location      = var.region
  repository_id = var.repository_id
  format        = "DOCKER"
  description   = "Africa Business Bridge container images"
  docker_config {
    immutable_tags = true
  }
  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_recent_versions
    }
  }
  cleanup_policies {
    id     = "delete-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "2592000s"
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "writer" {
  for_each   = var.writers
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}

resource "google_artifact_registry_repository_iam_member" "reader" {
  for_each   = var.readers
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = each.value
}
