# Deliberately insecure: tests/test_ship_terraform.py scans this with the real configuration to show that
# checkov still finds what it is there to find (a public, unversioned bucket; a SQL instance with a public IP).
resource "google_storage_bucket" "public" {
  name     = "canary-public"
  location = "EU"
}

resource "google_storage_bucket_iam_member" "everyone" {
  bucket = google_storage_bucket.public.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

resource "google_sql_database_instance" "public" {
  name             = "canary"
  database_version = "POSTGRES_15"
  region           = "europe-west1"
  settings {
    tier = "db-custom-1-3840"
    ip_configuration {
      ipv4_enabled = true
      authorized_networks {
        value = "0.0.0.0/0"
      }
    }
  }
}
