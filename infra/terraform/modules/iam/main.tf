# Who may do what, additively (google_*_iam_member only) and without primitive roles:
# - the job service account: Dataproc worker, and object roles on each bucket it needs;
# - the deployer service account used by `make submit`: submit batches/jobs, stage code, act as
#   the job service account;
# - the BigLake connection: read the gold bucket;
# - clients: read the client views dataset and run query jobs.

locals {
  staging_bucket = var.buckets["staging"]
}

# ---------------------------------------------------------------- job service account

resource "google_project_iam_member" "job_worker" {
  project = var.project_id
  role    = "roles/dataproc.worker"
  member  = var.job_service_account_member
}

resource "google_storage_bucket_iam_member" "job" {
  for_each = var.job_bucket_roles
  bucket   = var.buckets[each.key]
  role     = each.value
  member   = var.job_service_account_member
}

# A cluster writes job driver output under this prefix of its staging bucket as the job service
# account (Serverless batches write to the temp bucket instead, which `lakehouse submit` passes as
# their staging bucket); everything else in the staging bucket stays read-only for the jobs.
resource "google_storage_bucket_iam_member" "job_driver_output" {
  bucket = local.staging_bucket
  role   = "roles/storage.objectUser"
  member = var.job_service_account_member
  condition {
    title       = "dataproc-driver-output"
    description = "Only objects under the Dataproc metainfo prefix."
    expression  = "resource.name.startsWith(\"projects/_/buckets/${local.staging_bucket}/objects/google-cloud-dataproc-metainfo/\")"
  }
}

# ---------------------------------------------------------------- deployer (`make submit`)

resource "google_service_account" "main" {
  project      = var.project_id
  account_id   = "${var.prefix}-deployer"
  display_name = "Lakehouse job submitter"
  description  = "Used by `make submit`: stages code to the staging bucket and submits Dataproc batches/jobs as the job service account."
}

resource "google_project_iam_custom_role" "main" {
  project     = var.project_id
  role_id     = "${replace(var.prefix, "-", "_")}_submitter"
  title       = "Lakehouse job submitter"
  description = "Submit and follow Dataproc Serverless batches and cluster jobs; no cluster administration."
  permissions = [
    "dataproc.batches.cancel",
    "dataproc.batches.create",
    "dataproc.batches.get",
    "dataproc.batches.list",
    "dataproc.clusters.get",
    "dataproc.clusters.use",
    "dataproc.jobs.cancel",
    "dataproc.jobs.create",
    "dataproc.jobs.get",
    "dataproc.jobs.list",
    "dataproc.operations.get",
  ]
}

resource "google_project_iam_member" "deployer_submitter" {
  project = var.project_id
  role    = google_project_iam_custom_role.main.name
  member  = google_service_account.main.member
}

resource "google_storage_bucket_iam_member" "deployer_staging" {
  bucket = local.staging_bucket
  role   = "roles/storage.objectUser"
  member = google_service_account.main.member
}

# Batches run as the job service account, so the deployer must be allowed to act as it.
resource "google_service_account_iam_member" "deployer_act_as_job" {
  service_account_id = var.job_service_account_id
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.main.member
}

# People and CI that run `make submit` impersonate the deployer instead of holding its roles.
resource "google_service_account_iam_member" "deployer_impersonators" {
  for_each           = var.deployer_impersonators
  service_account_id = google_service_account.main.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = each.value
}

# ---------------------------------------------------------------- BigQuery

resource "google_storage_bucket_iam_member" "connection_gold" {
  bucket = var.buckets["gold"]
  role   = "roles/storage.objectViewer"
  member = var.bigquery_connection_member
}

resource "google_bigquery_dataset_iam_member" "clients" {
  for_each   = var.clients
  project    = var.project_id
  dataset_id = var.views_dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

# jobUser exists only at project level; it lets clients run queries, not read any data.
resource "google_project_iam_member" "clients_job_user" {
  for_each = var.clients
  project  = var.project_id
  role     = "roles/bigquery.jobUser"
  member   = each.value
}
