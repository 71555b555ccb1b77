terraform {
  required_version = ">= 1.9"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.40"
    }
  }
  # State in a versioned bucket made once by hand (docs/infrastructure.md); locking is native to the GCS backend.
  backend "gcs" {
    bucket = "abb-production-tfstate"
    prefix = "abb/production"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  default_labels = {
    app         = "africa-business-bridge"
    environment = "production"
    managed-by  = "terraform"
  }
}
