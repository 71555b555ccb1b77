# Not secret: identifiers only. Secrets live in Secret Manager; these name their pinned versions.
project_id          = "abb-staging-000000"
github_owner        = "africa-business-bridge"
github_repository   = "abb"
notification_emails = ["oncall@africabusinessbridge.example"]
# Bootstrap image (docs/infrastructure.md step 4); the pipeline deploys every later one.
image = "europe-west1-docker.pkg.dev/abb-staging-000000/abb/abb@sha256:0000000000000000000000000000000000000000000000000000000000000000"
secret_versions = {
  ABB_SECRET_KEY            = "1"
  ABB_DATABASE_URL          = "1"
  ABB_REDIS_URL             = "1"
  ABB_STRIPE_SECRET_KEY     = "1"
  ABB_STRIPE_WEBHOOK_SECRET = "1"
  ABB_SMTP_PASSWORD         = "1"
  ABB_METRICS_TOKEN         = "1" # Prometheus scrapes /metrics from inside the VPC with it
}
