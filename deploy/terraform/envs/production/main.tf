# Production: regional (HA) Cloud SQL and Memorystore, always-warm API instances, images pulled from the
# staging registry by the digest that passed staging. Sizing in docs/infrastructure.md.
module "platform" {
  source              = "../../platform"
  project_id          = var.project_id
  region              = var.region
  environment         = "production"
  domain              = "app.africabusinessbridge.example"
  dns_zone_name       = "abb-production"
  dns_name            = "africabusinessbridge.example."
  github_owner        = var.github_owner
  github_repository   = var.github_repository
  notification_emails = var.notification_emails
  image               = var.image
  create_registry     = false
  secret_versions     = var.secret_versions
  subnet_cidr         = "10.10.0.0/24"
  database = {
    tier                     = "db-custom-2-7680"
    high_availability        = true
    disk_size_gb             = 50
    disk_autoresize_limit_gb = 500
    max_connections          = 400
    backup_retention_count   = 30
  }
  redis = {
    memory_size_gb    = 2
    high_availability = true
  }
  api = {
    min_instances = 2
    max_instances = 20
    cpu           = "2"
    memory        = "2Gi"
    concurrency   = 80
    workers       = 2
  }
  worker = {
    min_instances = 2
    max_instances = 10
    cpu           = "1"
    memory        = "2Gi"
    concurrency   = 8
  }
  rate_limit_per_minute = 600
}
