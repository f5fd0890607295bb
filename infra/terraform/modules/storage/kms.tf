# Optional customer-managed encryption key for the buckets. Who may use it (the project's Cloud
# Storage service agent, plus kms_key_iam) is in iam.tf.

data "google_storage_project_service_account" "main" {
  count   = local.use_cmek ? 1 : 0
  project = var.project_id
}

resource "google_kms_key_ring" "main" {
  count    = var.create_kms_key ? 1 : 0
  project  = var.project_id
  name     = local.kms_name
  location = var.location
}

resource "google_kms_crypto_key" "main" {
  count           = var.create_kms_key ? 1 : 0
  name            = "${local.kms_name}-storage"
  key_ring        = google_kms_key_ring.main[0].id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period
  labels          = var.labels

  lifecycle {
    prevent_destroy = true
  }
}
