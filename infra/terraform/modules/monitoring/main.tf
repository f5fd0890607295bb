# Log-based alerts on the pipeline's Dataproc Serverless batches (scheduled or submitted by hand):
# a batch that ended FAILED, and an error the jobs report themselves by printing a line with
# alert_marker to the driver output. Notifications go to notification_channels.

locals {
  batch_logs = "resource.type=\"cloud_dataproc_batch\" AND resource.labels.location=\"${var.region}\""
  # Driver output of a batch (stdout/stderr of the Python driver).
  driver_output_log = "projects/${var.project_id}/logs/dataproc.googleapis.com%2Foutput"
  filters = {
    batch_failed = join("\n", [
      local.batch_logs,
      "-logName=\"${local.driver_output_log}\"",
      "(jsonPayload.state=\"FAILED\" OR jsonPayload.message:\"FAILED\" OR textPayload:\"FAILED\")",
    ])
    pipeline_error = join("\n", [
      local.batch_logs,
      "logName=\"${local.driver_output_log}\"",
      "(jsonPayload.message:\"${var.alert_marker}\" OR textPayload:\"${var.alert_marker}\")",
    ])
  }
}

resource "google_monitoring_alert_policy" "batch_failed" {
  project               = var.project_id
  display_name          = "${var.prefix}-${var.env}: Dataproc batch failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "A Dataproc Serverless batch ended in state FAILED"
    condition_matched_log {
      filter = local.filters.batch_failed
      label_extractors = {
        batch_id = "EXTRACT(resource.labels.batch_id)"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "300s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A lakehouse batch (${var.env}) failed. `gcloud dataproc batches describe BATCH_ID --region ${var.region} --project ${var.project_id}` shows its stateMessage; its driver output is in Logging (`${local.driver_output_log}`). Rerun with `make submit ENV=${var.env}` or `gcloud scheduler jobs run ${var.prefix}-${var.env}-pipeline --location ${var.region}`."
  }
}

resource "google_monitoring_alert_policy" "pipeline_error" {
  project               = var.project_id
  display_name          = "${var.prefix}-${var.env}: pipeline reported an error"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "Driver output contains \"${var.alert_marker}\""
    condition_matched_log {
      filter = local.filters.pipeline_error
      label_extractors = {
        batch_id = "EXTRACT(resource.labels.batch_id)"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "300s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A lakehouse job (${var.env}) printed `${var.alert_marker}` in its driver output: the rest of that line says what went wrong (e.g. a data-quality rule with severity error). See the batch's driver output in Logging (`${local.driver_output_log}`), `lakehouse runs` and `lakehouse dq`."
  }
}
