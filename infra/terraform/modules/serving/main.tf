# The client query API on Cloud Run: `lakehouse serve` in the image given by `image`, running as its
# own service account, reading the client views in BigQuery and the API key hashes from a Secret
# Manager secret mounted as a file. The secret exists even without an image, so keys can be added
# (`lakehouse keys` / gcloud) before the first deployment; the service exists only with an image.

locals {
  keys_dir  = "/secrets/api-keys"
  keys_file = "keys.json"
  # Environment of the container: the contract with `lakehouse serve`.
  env_vars = {
    GOOGLE_CLOUD_PROJECT       = var.project_id
    LAKEHOUSE_API_KEYS_FILE    = "${local.keys_dir}/${local.keys_file}"
    LAKEHOUSE_BIGQUERY_DATASET = var.views_dataset_id
    LAKEHOUSE_ENV              = var.env
    LAKEHOUSE_QUERY_ENGINE     = "bigquery"
  }
}

resource "google_service_account" "main" {
  project      = var.project_id
  account_id   = "${var.prefix}-api"
  display_name = "Lakehouse client query API (${var.env})"
  description  = "Runs the Cloud Run query API: reads the client views dataset, runs query jobs, reads the API key secret. Nothing else."
}

resource "google_secret_manager_secret" "main" {
  project   = var.project_id
  secret_id = "${var.prefix}-${var.env}-api-keys"
  labels    = var.labels

  # Kept in the environment's region; holds key hashes, never the keys.
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

resource "google_cloud_run_v2_service" "main" {
  count    = var.image == null ? 0 : 1
  project  = var.project_id
  name     = "${var.prefix}-${var.env}-api"
  location = var.region
  ingress  = var.ingress
  labels   = var.labels
  # Stateless: serving_image = null must be able to remove it.
  deletion_protection = false

  template {
    service_account = google_service_account.main.email
    labels          = var.labels

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    containers {
      image   = var.image
      command = ["lakehouse"]
      args    = ["serve", "--host", "0.0.0.0", "--port", "8080"]

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = var.memory
        }
      }

      dynamic "env" {
        for_each = local.env_vars
        content {
          name  = env.key
          value = env.value
        }
      }

      volume_mounts {
        name       = "api-keys"
        mount_path = local.keys_dir
      }
    }

    # The latest version of the secret, as the file keys.json.
    volumes {
      name = "api-keys"
      secret {
        secret = google_secret_manager_secret.main.secret_id
        items {
          version = "latest"
          path    = local.keys_file
        }
      }
    }
  }

  # The service account must be able to read the secret before a revision starts.
  depends_on = [google_secret_manager_secret_iam_member.main]
}
