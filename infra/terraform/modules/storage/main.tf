# Buckets of one environment: landing exports, the medallion layers, the warehouse root and the
# Dataproc staging/temp buckets. Names are `<prefix>-<env>-<key>`, as conf/env/<env>.yaml expects.

locals {
  # Data buckets are versioned: an overwritten or deleted Delta file can be recovered until
  # noncurrent_version_retention_days have passed. Values say what each bucket holds.
  data_buckets = {
    bronze    = "Bronze Delta tables and the quarantine tables."
    gold      = "Gold KPI tables and the ops tables (run log, dq results, manifests)."
    landing   = "Per-store exports, as delivered; the jobs only read them."
    silver    = "Silver Delta tables."
    warehouse = "Warehouse root for any layer without its own bucket."
  }
  # Scratch buckets hold only reproducible files, so they expire instead of keeping versions.
  scratch_buckets = {
    staging = { expire_days = var.staging_retention_days, expiring_prefixes = var.staging_expiring_prefixes }
    temp    = { expire_days = var.temp_retention_days, expiring_prefixes = [] }
  }
  # Known at plan time even when the key is created in the same apply (ids are deterministic), so
  # callers can decide on CMEK-dependent resources before the key exists.
  kms_name   = "${var.prefix}-${var.env}"
  use_cmek   = var.create_kms_key || var.kms_key_id != null
  kms_key_id = var.create_kms_key ? "projects/${var.project_id}/locations/${var.location}/keyRings/${local.kms_name}/cryptoKeys/${local.kms_name}-storage" : var.kms_key_id
}

resource "google_storage_bucket" "data" {
  # checkov:skip=CKV_GCP_62: access is audited with Cloud Audit Logs; legacy usage logs would need a log bucket per env
  for_each                    = local.data_buckets
  project                     = var.project_id
  name                        = "${var.prefix}-${var.env}-${each.key}"
  location                    = var.location
  storage_class               = "STANDARD"
  force_destroy               = false
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = merge(var.labels, { layer = each.key })

  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_days * 86400
  }

  dynamic "encryption" {
    for_each = local.use_cmek ? [local.kms_key_id] : []
    content {
      default_kms_key_name = encryption.value
    }
  }

  # Bound the cost of versioning: noncurrent versions go after the recovery window.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # The key's IAM must exist before GCS is asked to use the key.
  depends_on = [google_kms_crypto_key_iam_member.main]
}

resource "google_storage_bucket" "scratch" {
  # checkov:skip=CKV_GCP_62: access is audited with Cloud Audit Logs; legacy usage logs would need a log bucket per env
  # checkov:skip=CKV_GCP_78: staging and temp hold reproducible files that expire; versioning would only keep garbage
  for_each                    = local.scratch_buckets
  project                     = var.project_id
  name                        = "${var.prefix}-${var.env}-${each.key}"
  location                    = var.location
  storage_class               = "STANDARD"
  force_destroy               = false
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = merge(var.labels, { layer = each.key })

  versioning {
    enabled = false
  }

  # Deleted scratch files are not worth paying soft-delete storage for.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  dynamic "encryption" {
    for_each = local.use_cmek ? [local.kms_key_id] : []
    content {
      default_kms_key_name = encryption.value
    }
  }

  # Expire objects after expire_days (only under expiring_prefixes when any are given).
  lifecycle_rule {
    condition {
      age            = each.value.expire_days
      matches_prefix = each.value.expiring_prefixes
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.main]
}
