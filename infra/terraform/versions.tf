terraform {
  required_version = ">= 1.5.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.36, < 8.0"
    }
  }
  # Partial configuration: bucket and prefix come from envs/<env>.backend.hcl
  # (`terraform init -backend-config=envs/<env>.backend.hcl`, see terraform.mk).
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
