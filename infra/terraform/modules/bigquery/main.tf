# What clients query: BigLake external tables over the gold tables (read through a connection, so
# clients need no bucket access) in a private dataset, and the client views in their own dataset,
# authorized to read the private one. View SQL comes from `<views_dir>/<view>.sql`.

locals {
  dataset_prefix = replace(var.prefix, "-", "_")
  # `${project}` and `${dataset}` in a view file name the project and the dataset of the gold tables.
  view_vars = {
    dataset = google_bigquery_dataset.gold.dataset_id
    project = var.project_id
  }
  views = var.views_dir == null ? {} : {
    for file in fileset(var.views_dir, "*.sql") :
    trimsuffix(file, ".sql") => templatefile("${var.views_dir}/${file}", local.view_vars)
  }
  # A Delta table is read from its root (BigQuery reads _delta_log); Parquet from its files.
  source_uris = {
    for name, table in var.tables : name => (
      var.source_format == "DELTA_LAKE"
      ? "gs://${var.gold_bucket}/${coalesce(table.path, name)}/"
      : "gs://${var.gold_bucket}/${coalesce(table.path, name)}/*"
    )
  }
}

resource "google_bigquery_connection" "main" {
  project       = var.project_id
  connection_id = "${var.prefix}-gold"
  location      = var.location
  friendly_name = "Lakehouse gold tables (${var.env})"
  description   = "BigLake access delegation: reads the gold bucket for the external tables."
  cloud_resource {}
}

resource "google_bigquery_dataset" "gold" {
  # checkov:skip=CKV_GCP_81: holds only external tables; the data stays in GCS under the bucket's encryption
  project                    = var.project_id
  dataset_id                 = "${local.dataset_prefix}_gold_${var.env}"
  friendly_name              = "Lakehouse gold (${var.env})"
  description                = "External tables over the gold Delta tables. Not granted to clients: they read through the authorized views."
  location                   = var.location
  delete_contents_on_destroy = false
  labels                     = var.labels
}

resource "google_bigquery_dataset" "views" {
  # checkov:skip=CKV_GCP_81: holds only views; no table data is stored in BigQuery
  project                    = var.project_id
  dataset_id                 = "${local.dataset_prefix}_client_${var.env}"
  friendly_name              = "Lakehouse client views (${var.env})"
  description                = "Client views over the gold tables: the only dataset clients can read."
  location                   = var.location
  delete_contents_on_destroy = false
  labels                     = var.labels
}

resource "google_bigquery_table" "gold" {
  # checkov:skip=CKV_GCP_80: external table; the data stays in GCS under the bucket's encryption
  for_each            = var.tables
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.gold.dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection
  labels              = var.labels

  external_data_configuration {
    autodetect    = true
    source_format = var.source_format
    connection_id = google_bigquery_connection.main.name
    source_uris   = [local.source_uris[each.key]]
  }
}

resource "google_bigquery_table" "views" {
  # checkov:skip=CKV_GCP_80: a view stores no data
  for_each            = local.views
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.views.dataset_id
  table_id            = each.key
  deletion_protection = var.deletion_protection
  labels              = var.labels

  view {
    query          = each.value
    use_legacy_sql = false
  }

  lifecycle {
    precondition {
      condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", each.key))
      error_message = "View file ${each.key}.sql: the file stem is the view name and may hold only letters, digits and underscores."
    }
  }

  depends_on = [google_bigquery_table.gold]
}

# Views in the client dataset may read the gold dataset, so clients need no access to it.
resource "google_bigquery_dataset_access" "main" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.gold.dataset_id
  dataset {
    dataset {
      project_id = var.project_id
      dataset_id = google_bigquery_dataset.views.dataset_id
    }
    target_types = ["VIEWS"]
  }
}
