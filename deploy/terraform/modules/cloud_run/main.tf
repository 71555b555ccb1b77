# The API service, the Celery worker and the migration job: one image (by digest), three commands, one
# service account each with only the roles it needs. The pipeline (.github/workflows/deploy.yml) deploys
# new revisions and owns traffic; Terraform owns everything else (lifecycle.ignore_changes below).
locals {
  workloads = toset(["api", "worker", "migrate"])
  project_roles = {
    api     = ["roles/cloudsql.client", "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"]
    worker  = ["roles/cloudsql.client", "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"]
    migrate = ["roles/cloudsql.client", "roles/logging.logWriter"]
  }
  project_bindings = {
    for pair in flatten([
      for workload, roles in local.project_roles : [for role in roles : { workload = workload, role = role }]
    ]) : "${pair.workload} ${pair.role}" => pair
  }
  secret_bindings = merge(
    { for name, ref in var.secret_env : "api ${name}" => { workload = "api", secret = ref.secret } },
    { for name, ref in var.secret_env : "worker ${name}" => { workload = "worker", secret = ref.secret } },
    { for name in var.migration_secret_names : "migrate ${name}" => { workload = "migrate", secret = var.secret_env[name].secret } },
    { for workload in ["api", "worker"] : "${workload} redis-ca" => { workload = workload, secret = var.redis_ca_secret } },
  )
  common_env = merge(var.env, {
    ABB_ENV             = "production"
    ABB_STORAGE_BACKEND = "gcs"
    ABB_GCS_BUCKET      = var.uploads_bucket
  })
}

resource "google_service_account" "workload" {
  for_each     = local.workloads
  project      = var.project_id
  account_id   = "${var.name}-${each.key}"
  display_name = "ABB ${each.key} (Cloud Run)"
}

resource "google_project_iam_member" "workload" {
  for_each = local.project_bindings
  project  = var.project_id
  role     = each.value.role
  member   = google_service_account.workload[each.value.workload].member
}

resource "google_secret_manager_secret_iam_member" "workload" {
  for_each  = local.secret_bindings
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.workload[each.value.workload].member
}

resource "google_cloud_run_v2_service" "api" {
  project             = var.project_id
  name                = "${var.name}-api"
  location            = var.region
  deletion_protection = true
  # Only the external load balancer (and so Cloud Armor) reaches the service; no *.run.app URL.
  ingress              = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
  default_uri_disabled = true
  # The load balancer's requests carry no Google identity; ingress above is the access control.
  invoker_iam_disabled = true

  template {
    service_account                  = google_service_account.workload["api"].email
    max_instance_request_concurrency = var.api.concurrency
    timeout                          = "60s"
    scaling {
      min_instance_count = var.api.min_instances
      max_instance_count = var.api.max_instances
    }
    vpc_access {
      network_interfaces {
        network    = var.network_id
        subnetwork = var.subnetwork_id
      }
      egress = "PRIVATE_RANGES_ONLY"
    }
    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [var.cloud_sql_connection_name]
      }
    }
    volumes {
      name = "redis-ca"
      secret {
        secret = var.redis_ca_secret
        items {
          version = "latest"
          path    = "ca.pem"
        }
      }
    }
    containers {
      image = var.image
      args  = ["serve", "--host", "0.0.0.0"]
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = var.api.cpu
          memory = var.api.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }
      env {
        name  = "ABB_WORKERS"
        value = tostring(var.api.workers)
      }
      # A process never needs more connections than it has threads (4 request threads + health + metrics);
      # a fixed pool keeps the fleet's total inside Cloud SQL's max_connections (platform's validation).
      env {
        name  = "ABB_DATABASE_POOL_SIZE"
        value = "6"
      }
      env {
        name  = "ABB_DATABASE_MAX_OVERFLOW"
        value = "0"
      }
      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }
      volume_mounts {
        name       = "cloudsql"
        mount_path = "/cloudsql"
      }
      volume_mounts {
        name       = "redis-ca"
        mount_path = "/etc/abb/redis-ca"
      }
      startup_probe {
        http_get {
          path = "/health/ready"
        }
        period_seconds    = 5
        timeout_seconds   = 3
        failure_threshold = 12
      }
      liveness_probe {
        http_get {
          path = "/health/live"
        }
        period_seconds    = 15
        timeout_seconds   = 3
        failure_threshold = 3
      }
    }
  }

  lifecycle {
    ignore_changes = [client, client_version, template[0].containers[0].image, template[0].revision, template[0].labels, traffic]
  }
}

# The worker takes no requests: always-allocated CPU (cpu_idle = false), internal ingress only, and its
# metrics endpoint on PORT (ABB_WORKER_METRICS_PORT) answers the startup and liveness probes.
resource "google_cloud_run_v2_service" "worker" {
  project              = var.project_id
  name                 = "${var.name}-worker"
  location             = var.region
  deletion_protection  = true
  ingress              = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  default_uri_disabled = true

  template {
    service_account = google_service_account.workload["worker"].email
    scaling {
      min_instance_count = var.worker.min_instances
      max_instance_count = var.worker.max_instances
    }
    vpc_access {
      network_interfaces {
        network    = var.network_id
        subnetwork = var.subnetwork_id
      }
      egress = "PRIVATE_RANGES_ONLY"
    }
    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [var.cloud_sql_connection_name]
      }
    }
    volumes {
      name = "redis-ca"
      secret {
        secret = var.redis_ca_secret
        items {
          version = "latest"
          path    = "ca.pem"
        }
      }
    }
    containers {
      image = var.image
      args  = ["worker", "--pool", "threads", "--concurrency", tostring(var.worker.concurrency)]
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = var.worker.cpu
          memory = var.worker.memory
        }
        cpu_idle = false
      }
      env {
        name  = "ABB_WORKER_METRICS_PORT"
        value = "8080"
      }
      env {
        name  = "ABB_DATABASE_POOL_SIZE"
        value = tostring(var.worker.concurrency + 1)
      }
      env {
        name  = "ABB_DATABASE_MAX_OVERFLOW"
        value = "0"
      }
      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }
      volume_mounts {
        name       = "cloudsql"
        mount_path = "/cloudsql"
      }
      volume_mounts {
        name       = "redis-ca"
        mount_path = "/etc/abb/redis-ca"
      }
      startup_probe {
        tcp_socket {
          port = 8080
        }
        period_seconds    = 5
        failure_threshold = 12
      }
      liveness_probe {
        http_get {
          path = "/metrics"
        }
        period_seconds = 30
      }
    }
  }

  lifecycle {
    ignore_changes = [client, client_version, template[0].containers[0].image, template[0].revision, template[0].labels, traffic]
  }
}

# Migrations run as a job before each traffic shift (the pipeline executes it with the new image).
resource "google_cloud_run_v2_job" "migrate" {
  project             = var.project_id
  name                = "${var.name}-migrate"
  location            = var.region
  deletion_protection = true

  template {
    task_count = 1
    template {
      service_account = google_service_account.workload["migrate"].email
      timeout         = "900s"
      max_retries     = 0 # a failed migration needs a person, not a retry on a half-applied schema
      vpc_access {
        network_interfaces {
          network    = var.network_id
          subnetwork = var.subnetwork_id
        }
        egress = "PRIVATE_RANGES_ONLY"
      }
      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [var.cloud_sql_connection_name]
        }
      }
      containers {
        image = var.image
        args  = ["migrate"]
        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }
        env {
          name  = "ABB_ENV"
          value = "production"
        }
        dynamic "env" {
          for_each = toset(var.migration_secret_names)
          content {
            name = env.value
            value_source {
              secret_key_ref {
                secret  = var.secret_env[env.value].secret
                version = var.secret_env[env.value].version
              }
            }
          }
        }
        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [client, client_version, template[0].template[0].containers[0].image, template[0].labels]
  }
}
