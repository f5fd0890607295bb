output "bucket_urls" {
  description = "gs:// URL of each bucket, by key."
  value       = { for key, bucket in merge(google_storage_bucket.data, google_storage_bucket.scratch) : key => bucket.url }
}

output "buckets" {
  description = "Bucket name by key: bronze, gold, landing, silver, staging, temp, warehouse."
  value       = { for key, bucket in merge(google_storage_bucket.data, google_storage_bucket.scratch) : key => bucket.name }
}

output "kms_key_id" {
  description = "Id of the key encrypting the buckets, or null when they use Google-managed keys."
  value       = local.kms_key_id
  # Consumers wait until the key exists and the storage agent may use it.
  depends_on = [google_kms_crypto_key_iam_member.main]
}
