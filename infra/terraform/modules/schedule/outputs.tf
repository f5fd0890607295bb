output "job_name" {
  description = "Name of the Cloud Scheduler job, or null when batch_file does not exist."
  value       = local.batch_body == null ? null : google_cloud_scheduler_job.main[0].name
}

output "service_account_email" {
  description = "Email of the scheduler's service account."
  value       = google_service_account.main.email
}

output "service_account_member" {
  description = "The scheduler's service account as an IAM member; the root grants it the scheduler custom role on the project and serviceAccountUser on the job service account."
  value       = google_service_account.main.member
}

output "status" {
  description = "Whether a scheduler job exists, and why not when it does not."
  value       = local.status
}
