output "api_keys_secret_id" {
  description = "Secret holding the query API's key hashes; add a version with `lakehouse keys` or `gcloud secrets versions add`."
  value       = module.serving.secret_id
}

output "buckets" {
  description = "Bucket name by key."
  value       = module.storage.buckets
}

output "cluster_name" {
  description = "Dataproc cluster name (conf/env dataproc.cluster), or null for Serverless only."
  value       = module.dataproc.cluster_name
}

output "conf_env" {
  description = "The values conf/env/<env>.yaml must hold for the jobs to find this environment."
  value = {
    bigquery_dataset = module.bigquery.views_dataset_id
    dataproc = {
      service_account = module.dataproc.service_account_email
      staging_bucket  = module.storage.buckets["staging"]
      subnetwork      = module.dataproc.subnetwork_id
      temp_bucket     = module.storage.buckets["temp"]
    }
    gcp_project = var.project_id
    landing     = module.storage.bucket_urls["landing"]
    layer_roots = {
      bronze     = module.storage.bucket_urls["bronze"]
      gold       = module.storage.bucket_urls["gold"]
      ops        = module.storage.bucket_urls["gold"]
      quarantine = module.storage.bucket_urls["bronze"]
      silver     = module.storage.bucket_urls["silver"]
    }
    region    = var.region
    warehouse = module.storage.bucket_urls["warehouse"]
  }
}

output "deployer_email" {
  description = "Service account to impersonate for `make submit`."
  value       = module.deployer.email
}

output "job_service_account_email" {
  description = "Service account the jobs run as."
  value       = module.dataproc.service_account_email
}

output "pipeline_schedule" {
  description = "The pipeline's scheduler job (null without a batch file) and a status line saying why when there is none."
  value = {
    job    = module.schedule.job_name
    status = module.schedule.status
  }
}

output "row_access_policies" {
  description = "Row access policy filter by \"<table>/<policy>\" (empty without client_locations)."
  value       = module.bigquery.row_access_policies
}

output "serving_url" {
  description = "URL of the client query API, or null without serving_image."
  value       = module.serving.url
}

output "views" {
  description = "Client views created from the exported SQL."
  value       = module.bigquery.views
}

output "views_dataset_id" {
  description = "Dataset clients query."
  value       = module.bigquery.views_dataset_id
}
