# Optional customer-managed encryption key for the buckets, and the grant that lets the project's
# Cloud Storage service agent use it.

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

resource "google_kms_crypto_key_iam_member" "main" {
  count         = local.use_cmek ? 1 : 0
  crypto_key_id = var.create_kms_key ? google_kms_crypto_key.main[0].id : var.kms_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = data.google_storage_project_service_account.main[0].member
}
