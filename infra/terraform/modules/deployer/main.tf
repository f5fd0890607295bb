# The service account `make submit` impersonates: people and CI never hold its roles themselves.
# Its grants on other resources live with those resources (project module: the submitter role;
# storage module: the staging bucket; dataproc module: acting as the job service account).

resource "google_service_account" "main" {
  project      = var.project_id
  account_id   = "${var.prefix}-deployer"
  display_name = "Lakehouse job submitter"
  description  = "Used by `make submit`: stages code to the staging bucket and submits Dataproc batches/jobs as the job service account."
}
