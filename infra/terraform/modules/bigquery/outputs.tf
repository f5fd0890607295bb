output "connection_member" {
  description = "The BigLake connection's service account as an IAM member; it needs read access to the gold bucket."
  value       = "serviceAccount:${google_bigquery_connection.main.cloud_resource[0].service_account_id}"
}

output "gold_dataset_id" {
  description = "Dataset of the external gold tables (not granted to clients)."
  value       = google_bigquery_dataset.gold.dataset_id
}

output "gold_tables" {
  description = "Source URI of each external gold table, by table id."
  value       = local.source_uris
}

output "row_access_policies" {
  description = "Row access policy filter of each \"<table>/<policy>\" (empty without row_access)."
  value       = { for key, policy in local.row_access_policies : key => policy.filter }
}

output "views" {
  description = "Names of the client views created from views_dir."
  value       = sort(keys(local.views))
}

output "views_dataset_id" {
  description = "Dataset of the client views (conf/env bigquery_dataset); the only one clients may read."
  value       = google_bigquery_dataset.views.dataset_id
}
