# One lakehouse environment. Every environment (dev, staging, prod) applies this root with its own
# envs/<env>.tfvars and its own state (envs/<env>.backend.hcl): `make tf-plan ENV=<env>`.
# Who may do what is wired in iam.tf; each module owns the IAM on the resources it creates.

locals {
  labels = merge(var.labels, {
    app        = var.prefix
    env        = var.env
    managed-by = "terraform"
  })
  # Files the Python side writes under the repository's build/ (this root is infra/terraform).
  pipeline_batch_file = coalesce(var.pipeline_batch_file, "${path.root}/../../build/schedule/${var.env}.json")
  views_dir           = coalesce(var.views_dir, "${path.root}/../../build/views/bigquery")
  services = {
    bigquery           = "bigquery.googleapis.com"
    bigqueryconnection = "bigqueryconnection.googleapis.com"
    cloudkms           = "cloudkms.googleapis.com"
    cloudscheduler     = "cloudscheduler.googleapis.com"
    compute            = "compute.googleapis.com"
    dataproc           = "dataproc.googleapis.com"
    iam                = "iam.googleapis.com"
    monitoring         = "monitoring.googleapis.com"
    run                = "run.googleapis.com"
    secretmanager      = "secretmanager.googleapis.com"
    storage            = "storage.googleapis.com"
  }
}

module "project" {
  source       = "./modules/project"
  custom_roles = local.custom_roles
  iam_bindings = merge(local.project_iam, local.client_project_iam)
  prefix       = var.prefix
  project_id   = var.project_id
  services     = local.services
}

module "storage" {
  source                 = "./modules/storage"
  bucket_iam             = merge(local.bucket_iam, local.job_bucket_iam)
  create_kms_key         = var.create_kms_key
  env                    = var.env
  kms_key_iam            = local.kms_key_iam
  kms_key_id             = var.kms_key_id
  labels                 = local.labels
  location               = var.region
  prefix                 = var.prefix
  project_id             = module.project.project_id
  staging_retention_days = var.staging_retention_days
  temp_retention_days    = var.temp_retention_days
}

module "dataproc" {
  source              = "./modules/dataproc"
  cluster             = var.cluster
  env                 = var.env
  kms_key_id          = module.storage.kms_key_id
  labels              = local.labels
  prefix              = var.prefix
  project_id          = module.project.project_id
  region              = var.region
  service_account_iam = local.job_service_account_iam
  staging_bucket      = module.storage.buckets["staging"]
  subnet_cidr         = var.subnet_cidr
  temp_bucket         = module.storage.buckets["temp"]
}

module "deployer" {
  source        = "./modules/deployer"
  impersonators = var.deployer_impersonators
  prefix        = var.prefix
  project_id    = module.project.project_id
}

module "bigquery" {
  source            = "./modules/bigquery"
  env               = var.env
  gold_bucket       = module.storage.buckets["gold"]
  labels            = local.labels
  location          = var.region
  prefix            = var.prefix
  project_id        = module.project.project_id
  row_access        = local.row_access
  views_dataset_iam = merge(local.views_dataset_iam, local.client_views_dataset_iam)
  views_dir         = local.views_dir
}

module "serving" {
  source           = "./modules/serving"
  env              = var.env
  image            = var.serving_image
  ingress          = var.serving_ingress
  invokers         = var.serving_invokers
  key_managers     = var.serving_key_managers
  labels           = local.labels
  prefix           = var.prefix
  project_id       = module.project.project_id
  region           = var.region
  views_dataset_id = module.bigquery.views_dataset_id
}

module "schedule" {
  source                    = "./modules/schedule"
  batch_file                = local.pipeline_batch_file
  env                       = var.env
  job_service_account_email = module.dataproc.service_account_email
  paused                    = var.pipeline_schedule_paused
  prefix                    = var.prefix
  project_id                = module.project.project_id
  region                    = var.region
  schedule                  = var.pipeline_schedule
  time_zone                 = var.pipeline_schedule_time_zone
}

module "monitoring" {
  source                = "./modules/monitoring"
  env                   = var.env
  labels                = local.labels
  notification_channels = var.alert_notification_channels
  prefix                = var.prefix
  project_id            = module.project.project_id
  region                = var.region
}
