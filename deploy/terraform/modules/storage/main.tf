# Buckets: uploads (logos, documents) and backups (dual-region, retention-locked for backup_retention_days),
# both private with uniform access and public access prevention, versioned, logged to an access-log bucket.
locals {
  buckets_force_destroy = false
}

resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:this is the access-log bucket itself; logging it to another bucket would recurse
  project                     = var.project_id
  name                        = "${var.name}-access-logs"
  location                    = var.location
  force_destroy               = local.buckets_force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age = 90
    }
  }
}

resource "google_storage_bucket" "uploads" {
  project                     = var.project_id
  name                        = "${var.name}-uploads"
  location                    = var.location
  force_destroy               = local.buckets_force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  # A replaced or deleted upload stays recoverable for 30 days.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
  }
  lifecycle_rule {
    action {
      type = "AbortIncompleteMultipartUpload"
    }
    condition {
      age = 1
    }
  }
  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }
}

resource "google_storage_bucket" "backups" {
  project                     = var.project_id
  name                        = "${var.name}-backups"
  location                    = "EU"
  force_destroy               = local.buckets_force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  rpo                         = "ASYNC_TURBO"
  custom_placement_config {
    data_locations = var.backup_locations
  }
  versioning {
    enabled = true
  }
  retention_policy {
    retention_period = tostring(var.backup_retention_days * 86400)
  }
  lifecycle_rule {
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
    condition {
      age = 30
    }
  }
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age = 400
    }
  }
  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }
}

resource "google_storage_bucket_iam_member" "uploads_object_admin" {
  for_each = var.uploads_object_admins
  bucket   = google_storage_bucket.uploads.name
  role     = "roles/storage.objectAdmin"
  member   = each.value
}

resource "google_storage_bucket_iam_member" "backup_writer" {
  for_each = var.backup_writers
  bucket   = google_storage_bucket.backups.name
  role     = "roles/storage.objectCreator"
  member   = each.value
}
