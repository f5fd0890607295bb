# The pipeline on a timetable: a Cloud Scheduler job that POSTs the pipeline's Dataproc batch (the
# JSON body `lakehouse submit pipeline --dry-run` prints, written to batch_file by the Python side)
# to the batches.create endpoint, authenticated as a dedicated service account. No batchId is sent,
# so Dataproc names each batch. Without the file there is no job, and the output `status` says why.

locals {
  batch_body = fileexists(var.batch_file) ? file(var.batch_file) : null
  job_name   = "${var.prefix}-${var.env}-pipeline"
  status = (
    local.batch_body == null
    ? "no scheduler job: ${var.batch_file} does not exist; write it with the Python side (the body of `lakehouse submit pipeline --env ${var.env} --dry-run`) and apply again"
    : "scheduler job ${local.job_name} (${var.schedule}, ${var.time_zone})${var.paused ? ", paused" : ""}"
  )
  uri = "https://dataproc.googleapis.com/v1/projects/${var.project_id}/locations/${var.region}/batches"
}

resource "google_service_account" "main" {
  project      = var.project_id
  account_id   = "${var.prefix}-scheduler"
  display_name = "Lakehouse pipeline scheduler (${var.env})"
  description  = "Cloud Scheduler's identity: creates the pipeline's Dataproc batch running as the job service account. Nothing else."
}

resource "google_cloud_scheduler_job" "main" {
  count            = local.batch_body == null ? 0 : 1
  project          = var.project_id
  region           = var.region
  name             = local.job_name
  description      = "Runs the lakehouse pipeline (${var.env}) on Dataproc Serverless."
  schedule         = var.schedule
  time_zone        = var.time_zone
  paused           = var.paused
  attempt_deadline = "60s"

  # batches.create answers at once with an operation; a failed call (quota, a transient error) is
  # retried with backoff. The batch's own failure is not retried: the alert policies report it.
  retry_config {
    retry_count          = var.retry_count
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = local.uri
    body        = base64encode(local.batch_body)
    headers = {
      "Content-Type" = "application/json"
    }

    oauth_token {
      service_account_email = google_service_account.main.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  lifecycle {
    precondition {
      condition     = can(jsondecode(local.batch_body).pysparkBatch.mainPythonFileUri)
      error_message = "${var.batch_file}: not a Dataproc Batch in REST JSON (camelCase, e.g. pysparkBatch.mainPythonFileUri): write only the JSON body that `lakehouse submit pipeline --dry-run` prints."
    }
    precondition {
      condition     = try(jsondecode(local.batch_body).environmentConfig.executionConfig.serviceAccount, null) == var.job_service_account_email
      error_message = "${var.batch_file}: environmentConfig.executionConfig.serviceAccount must be the job service account ${var.job_service_account_email}, the only one the scheduler may act as."
    }
  }
}
