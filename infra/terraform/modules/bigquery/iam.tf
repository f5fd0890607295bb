# IAM on this module's datasets, additive and keyed by stable names. Only the client views dataset
# is granted (clients, the query API); the gold dataset is read through the authorized views
# (google_bigquery_dataset_access.main), never granted to people.

resource "google_bigquery_dataset_iam_member" "main" {
  for_each   = var.views_dataset_iam
  project    = var.project_id
  dataset_id = google_bigquery_dataset.views.dataset_id
  role       = each.value.role
  member     = each.value.member
}
