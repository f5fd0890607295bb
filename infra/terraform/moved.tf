# State written by the former per-environment roots (envs/<env>/*.tf, with an `iam` module) moves
# to the addresses of this root on the next plan, instead of being destroyed and created again.
# Grants whose role changes (the jobs' objectAdmin -> objectUser) or whose IAM condition changes
# are still replaced, by design.

moved {
  from = google_project_service.main
  to   = module.project.google_project_service.main
}

moved {
  from = module.iam.google_project_iam_custom_role.main
  to   = module.project.google_project_iam_custom_role.main["submitter"]
}

moved {
  from = module.iam.google_project_iam_member.job_worker
  to   = module.project.google_project_iam_member.main["jobs_dataproc_worker"]
}

moved {
  from = module.iam.google_project_iam_member.deployer_submitter
  to   = module.project.google_project_iam_member.main["deployer_submitter"]
}

moved {
  from = module.iam.google_service_account.main
  to   = module.deployer.google_service_account.main
}

moved {
  from = module.iam.google_service_account_iam_member.deployer_impersonators
  to   = module.deployer.google_service_account_iam_member.main
}

moved {
  from = module.iam.google_service_account_iam_member.deployer_act_as_job
  to   = module.dataproc.google_service_account_iam_member.main["deployer_act_as"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.deployer_staging
  to   = module.storage.google_storage_bucket_iam_member.main["deployer_staging"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.connection_gold
  to   = module.storage.google_storage_bucket_iam_member.main["bigquery_connection_gold"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job_driver_output
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_driver_output"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["bronze"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_bronze"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["gold"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_gold"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["landing"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_landing"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["silver"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_silver"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["staging"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_staging"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["temp"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_temp"]
}

moved {
  from = module.iam.google_storage_bucket_iam_member.job["warehouse"]
  to   = module.storage.google_storage_bucket_iam_member.main["jobs_warehouse"]
}

moved {
  from = module.dataproc.google_kms_crypto_key_iam_member.main["compute"]
  to   = module.storage.google_kms_crypto_key_iam_member.main["compute_agent"]
}

moved {
  from = module.dataproc.google_kms_crypto_key_iam_member.main["dataproc"]
  to   = module.storage.google_kms_crypto_key_iam_member.main["dataproc_agent"]
}
