# IAM on the job service account itself, additive and keyed by stable names: who may run batches
# and jobs as it (roles/iam.serviceAccountUser), e.g. the deployer and the scheduler.

resource "google_service_account_iam_member" "main" {
  for_each           = var.service_account_iam
  service_account_id = google_service_account.main.name
  role               = each.value.role
  member             = each.value.member
}
