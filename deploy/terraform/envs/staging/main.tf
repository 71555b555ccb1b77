# Staging: production's shape at the smallest sizes (zonal database, basic Redis, scale to zero), and the
# home of the Artifact Registry repository: production deploys the digests that passed here.
module "platform" {
  source              = "../../platform"
  project_id          = var.project_id
  region              = var.region
  environment         = "staging"
  domain              = "staging.africabusinessbridge.example"
  dns_zone_name       = "abb-staging"
  dns_name            = "staging.africabusinessbridge.example."
  github_owner        = var.github_owner
  github_repository   = var.github_repository
  notification_emails = var.notification_emails
  image               = var.image
  create_registry     = true
  registry_readers    = var.registry_readers
  secret_versions     = var.secret_versions
  subnet_cidr         = "10.20.0.0/24"
  database = {
    tier                     = "db-custom-1-3840"
    high_availability        = false
    disk_size_gb             = 10
    disk_autoresize_limit_gb = 50
    max_connections          = 100
    backup_retention_count   = 7
  }
  redis = {
    memory_size_gb    = 1
    high_availability = false
  }
  api = {
    min_instances = 0
    max_instances = 3
    cpu           = "1"
    memory        = "1Gi"
    concurrency   = 40
    workers       = 1
  }
  worker = {
    min_instances = 1
    max_instances = 2
    cpu           = "1"
    memory        = "1Gi"
    concurrency   = 4
  }
  rate_limit_per_minute = 600
}
