output "alert_policy_ids" {
  description = "Id of each alert policy: batch_failed, pipeline_error."
  value = {
    batch_failed   = google_monitoring_alert_policy.batch_failed.id
    pipeline_error = google_monitoring_alert_policy.pipeline_error.id
  }
}

output "filters" {
  description = "The log filters of the alert policies, by policy (paste into the Logs Explorer to see what they match)."
  value       = local.filters
}
