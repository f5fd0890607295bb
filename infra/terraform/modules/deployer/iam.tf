# Who may impersonate the deployer (roles/iam.serviceAccountTokenCreator), by a stable name.

resource "google_service_account_iam_member" "main" {
  for_each           = var.impersonators
  service_account_id = google_service_account.main.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = each.value
}
