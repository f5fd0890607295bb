# Additive project-level grants, keyed by stable names. Only roles that exist at project level
# belong here (e.g. roles/dataproc.worker, roles/bigquery.jobUser, the custom roles); grants on a
# bucket, dataset, secret or service account live in the module owning that resource.

locals {
  # A binding's role is a predefined role (roles/...) or the key of one of custom_roles.
  custom_role_names = { for key, role in google_project_iam_custom_role.main : key => role.name }
}

resource "google_project_iam_member" "main" {
  for_each = var.iam_bindings
  project  = var.project_id
  role     = lookup(local.custom_role_names, each.value.role, each.value.role)
  member   = each.value.member
}
