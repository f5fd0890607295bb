# Optional row-level security: google_bigquery_row_access_policy on each gold table that has a
# location column. The client views read these tables as an authorized dataset, and BigQuery
# evaluates a table's row access policies against the principal running the query, so a client
# querying a view sees only the rows of its locations. Once a table has any policy, a principal in
# none of its policies sees no rows of it: hence the `["*"]` (every row) option.

locals {
  row_filtered_tables = { for name, table in var.tables : name => table.location_column if table.location_column != null }
  # One policy per (table, row_access entry), keyed "<table>/<policy>".
  row_access_policies = merge([
    for table, column in local.row_filtered_tables : {
      for policy, spec in var.row_access : "${table}/${policy}" => {
        filter   = contains(spec.location_ids, "*") ? "TRUE" : "${column} IN (${join(", ", [for id in spec.location_ids : jsonencode(id)])})"
        grantees = spec.grantees
        policy   = policy
        table    = table
      }
    }
  ]...)
}

resource "google_bigquery_row_access_policy" "main" {
  for_each         = local.row_access_policies
  project          = var.project_id
  dataset_id       = google_bigquery_dataset.gold.dataset_id
  table_id         = google_bigquery_table.gold[each.value.table].table_id
  policy_id        = each.value.policy
  filter_predicate = each.value.filter
  grantees         = each.value.grantees
}
