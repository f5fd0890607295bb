output "cluster_name" {
  description = "Name of the Dataproc cluster, or null when jobs run on Serverless only."
  value       = var.cluster == null ? null : google_dataproc_cluster.main[0].name
}

output "network_id" {
  description = "Id of the VPC network."
  value       = google_compute_network.main.id
}

output "service_account_email" {
  description = "Email of the job service account (conf/env dataproc.service_account)."
  value       = google_service_account.main.email
}

output "service_account_id" {
  description = "Id of the job service account (projects/P/serviceAccounts/EMAIL), for grants on the account itself."
  value       = google_service_account.main.id
}

output "service_account_member" {
  description = "The job service account as an IAM member (serviceAccount:...)."
  value       = google_service_account.main.member
}

output "subnetwork_id" {
  description = "Id of the Dataproc subnetwork, projects/P/regions/R/subnetworks/N (conf/env dataproc.subnetwork)."
  value       = google_compute_subnetwork.main.id
}
