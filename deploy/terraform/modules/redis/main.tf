# Memorystore for Redis: Celery broker and result backend, and the cache. AUTH and TLS (server
# authentication) on; clients use rediss:// with the server CA (output server_ca_certs), mounted from a secret.
resource "google_redis_instance" "cache" {
  project                 = var.project_id
  name                    = var.name
  region                  = var.region
  tier                    = var.high_availability ? "STANDARD_HA" : "BASIC"
  memory_size_gb          = var.memory_size_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = var.network_id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  # Queued tasks survive a restart: an RDB snapshot every hour.
  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = "ONE_HOUR"
  }

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 3
        minutes = 0
      }
    }
  }

  redis_configs = {
    # Celery's messages must never be evicted to make room for cache entries.
    maxmemory-policy = "noeviction"
  }
}
