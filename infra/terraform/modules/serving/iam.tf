# IAM on this module's resources, additive and keyed by stable names: the API's service account
# reads the secret (the only grant it gets here); key_managers may add secret versions; invokers
# may call the service (no allUsers/allAuthenticatedUsers: callers need a Google identity, and the
# API checks its keys on top).

locals {
  secret_iam = merge(
    { api = { member = google_service_account.main.member, role = "roles/secretmanager.secretAccessor" } },
    { for key, member in var.key_managers : "manager_${key}" => { member = member, role = "roles/secretmanager.secretVersionAdder" } },
  )
  invokers = { for key, member in var.invokers : key => member if var.image != null }
}

resource "google_secret_manager_secret_iam_member" "main" {
  for_each  = local.secret_iam
  project   = var.project_id
  secret_id = google_secret_manager_secret.main.secret_id
  role      = each.value.role
  member    = each.value.member
}

resource "google_cloud_run_v2_service_iam_member" "main" {
  for_each = local.invokers
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.main[0].name
  role     = "roles/run.invoker"
  member   = each.value
}
