# IAM on this module's resources, additive and keyed by stable names: object roles on the buckets
# (bucket_iam) and use of the CMEK key (the Cloud Storage service agent, plus kms_key_iam).

locals {
  bucket_names = { for key, bucket in merge(google_storage_bucket.data, google_storage_bucket.scratch) : key => bucket.name }
  # The storage agent always needs the key; other agents (e.g. a cluster's) come from kms_key_iam.
  kms_key_iam = {
    for key, member in merge({ storage_agent = one(data.google_storage_project_service_account.main[*].member) }, var.kms_key_iam) :
    key => member if local.use_cmek
  }
}

resource "google_storage_bucket_iam_member" "main" {
  for_each = var.bucket_iam
  bucket   = local.bucket_names[each.value.bucket]
  role     = each.value.role
  member   = each.value.member

  # object_prefix limits the grant to objects under that prefix (an IAM condition on the object name).
  dynamic "condition" {
    for_each = each.value.object_prefix == null ? [] : [each.value.object_prefix]
    content {
      title       = "prefix-${trimsuffix(replace(condition.value, "/[^A-Za-z0-9_-]+/", "-"), "-")}"
      description = "Only objects under ${condition.value}"
      expression  = "resource.name.startsWith(\"projects/_/buckets/${local.bucket_names[each.value.bucket]}/objects/${condition.value}\")"
    }
  }
}

resource "google_kms_crypto_key_iam_member" "main" {
  for_each      = local.kms_key_iam
  crypto_key_id = var.create_kms_key ? google_kms_crypto_key.main[0].id : var.kms_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}

# The storage agent's grant was a counted resource before other members could be added.
moved {
  from = google_kms_crypto_key_iam_member.main[0]
  to   = google_kms_crypto_key_iam_member.main["storage_agent"]
}
