# One environment of Africa Business Bridge on GCP, composed of the modules; envs/staging and
# envs/production give it their own values and state. The diagram is in docs/infrastructure.md.
locals {
  name = "abb-${var.environment}"
  # Application secrets: Terraform makes the containers and the access grants; values are added with
  # `gcloud secrets versions add` (docs/infrastructure.md) so that no secret ever sits in Terraform state.
  application_secrets = toset(keys(var.secret_versions))
}

resource "google_secret_manager_secret" "application" {
  for_each  = local.application_secrets
  project   = var.project_id
  secret_id = "${local.name}-${lower(replace(each.value, "_", "-"))}"
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

resource "google_secret_manager_secret" "redis_ca" {
  project   = var.project_id
  secret_id = "${local.name}-redis-ca"
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

# The Redis CA certificate is public material, so Terraform may hold it.
resource "google_secret_manager_secret_version" "redis_ca" {
  secret      = google_secret_manager_secret.redis_ca.id
  secret_data = join("\n", module.redis.server_ca_certs)
}

module "network" {
  source      = "../modules/network"
  project_id  = var.project_id
  region      = var.region
  name        = local.name
  subnet_cidr = var.subnet_cidr
}

module "cloud_sql" {
  source                   = "../modules/cloud_sql"
  depends_on               = [module.network] # private services access must exist first
  project_id               = var.project_id
  region                   = var.region
  name                     = "${local.name}-pg"
  network_id               = module.network.network_id
  tier                     = var.database.tier
  high_availability        = var.database.high_availability
  disk_size_gb             = var.database.disk_size_gb
  disk_autoresize_limit_gb = var.database.disk_autoresize_limit_gb
  max_connections          = var.database.max_connections
  backup_retention_count   = var.database.backup_retention_count
}

module "redis" {
  source            = "../modules/redis"
  depends_on        = [module.network]
  project_id        = var.project_id
  region            = var.region
  name              = "${local.name}-redis"
  network_id        = module.network.network_id
  memory_size_gb    = var.redis.memory_size_gb
  high_availability = var.redis.high_availability
}

module "storage" {
  source                = "../modules/storage"
  project_id            = var.project_id
  name                  = var.project_id # project ids are globally unique, so are the bucket names
  location              = upper(var.region)
  backup_locations      = var.backup_locations
  uploads_object_admins = {
    api    = module.cloud_run.service_account_members["api"]
    worker = module.cloud_run.service_account_members["worker"]
  }
}

module "cloud_run" {
  source                    = "../modules/cloud_run"
  project_id                = var.project_id
  region                    = var.region
  name                      = local.name
  image                     = var.image
  network_id                = module.network.network_id
  subnetwork_id             = module.network.subnetwork_id
  cloud_sql_connection_name = module.cloud_sql.connection_name
  uploads_bucket            = module.storage.uploads_bucket
  redis_ca_secret           = google_secret_manager_secret.redis_ca.secret_id
  secret_env = {
    for name in local.application_secrets : name => {
      secret  = google_secret_manager_secret.application[name].secret_id
      version = var.secret_versions[name]
    }
  }
  env = {
    ABB_SERVICE_NAME = "abb-api"
  }
  api    = var.api
  worker = var.worker
}

module "cloud_armor" {
  source                         = "../modules/cloud_armor"
  project_id                     = var.project_id
  name                           = "${local.name}-edge"
  rate_limit_per_minute          = var.rate_limit_per_minute
  ban_threshold_per_five_minutes = var.rate_limit_per_minute * 10
}

module "load_balancer" {
  source             = "../modules/load_balancer"
  project_id         = var.project_id
  region             = var.region
  name               = local.name
  domain             = var.domain
  api_service_name   = module.cloud_run.api_service_name
  security_policy_id = module.cloud_armor.policy_id
}

module "dns" {
  source     = "../modules/dns"
  project_id = var.project_id
  zone_name  = local.name
  dns_name   = var.dns_name
  records = {
    "${var.domain}." = module.load_balancer.ip_address
  }
}

module "monitoring" {
  source              = "../modules/monitoring"
  project_id          = var.project_id
  name                = local.name
  host                = var.domain
  notification_emails = var.notification_emails
  api_service_name    = module.cloud_run.api_service_name
}

module "workload_identity" {
  source             = "../modules/workload_identity"
  project_id         = var.project_id
  name               = local.name
  github_owner       = var.github_owner
  github_repository  = var.github_repository
  github_environment = var.environment
}

module "artifact_registry" {
  source        = "../modules/artifact_registry"
  count         = var.create_registry ? 1 : 0
  project_id    = var.project_id
  region        = var.region
  repository_id = "abb"
  writers       = { deployer = module.workload_identity.deployer_member }
  readers       = var.registry_readers
}

# The deployer deploys revisions that run as the workload accounts, so it may act as them (and only them).
resource "google_service_account_iam_member" "deployer_acts_as_workload" {
  for_each           = module.cloud_run.service_account_emails
  service_account_id = "projects/${var.project_id}/serviceAccounts/${each.value}"
  role               = "roles/iam.serviceAccountUser"
  member             = module.workload_identity.deployer_member
}
