output "custom_role_ids" {
  description = "Id (projects/P/roles/R) of each custom role, by key."
  value       = { for key, role in google_project_iam_custom_role.main : key => role.id }
}

output "number" {
  description = "Project number."
  value       = data.google_project.main.number
}

output "project_id" {
  description = "The project id, available once the services are enabled: modules that take it from here wait for their APIs."
  value       = var.project_id
  depends_on  = [google_project_service.main]
}

output "service_agents" {
  description = "IAM members of the Google-managed service agents other modules grant on their resources (compute, dataproc), by key."
  value = {
    compute  = "serviceAccount:service-${data.google_project.main.number}@compute-system.iam.gserviceaccount.com"
    dataproc = "serviceAccount:service-${data.google_project.main.number}@dataproc-accounts.iam.gserviceaccount.com"
  }
}
