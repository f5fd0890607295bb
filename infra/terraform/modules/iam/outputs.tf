output "deployer_email" {
  description = "Email of the deployer service account to impersonate for `make submit`."
  value       = google_service_account.main.email
}

output "submitter_role_id" {
  description = "Id of the custom role that lets the deployer submit Dataproc batches and jobs."
  value       = google_project_iam_custom_role.main.id
}
