output "env_vars" {
  description = "Environment variables the container gets (the contract with `lakehouse serve`)."
  value       = local.env_vars
}

output "secret_id" {
  description = "Id of the API key secret (projects/P/secrets/<prefix>-<env>-api-keys); add versions with `lakehouse keys` or gcloud."
  value       = google_secret_manager_secret.main.id
}

output "service_account_email" {
  description = "Email of the API's service account."
  value       = google_service_account.main.email
}

output "service_account_member" {
  description = "The API's service account as an IAM member; the root grants it dataViewer on the client views dataset and jobUser on the project."
  value       = google_service_account.main.member
}

output "url" {
  description = "URL of the Cloud Run service, or null when no image is set."
  value       = var.image == null ? null : google_cloud_run_v2_service.main[0].uri
}
