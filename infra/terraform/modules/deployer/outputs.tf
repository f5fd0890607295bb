output "email" {
  description = "Email of the deployer service account to impersonate for `make submit`."
  value       = google_service_account.main.email
}

output "member" {
  description = "The deployer service account as an IAM member (serviceAccount:...)."
  value       = google_service_account.main.member
}
