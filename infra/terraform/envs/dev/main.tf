# One lakehouse environment. This file is identical in envs/dev, envs/staging and envs/prod: the
# environments differ only in terraform.tfvars and backend.hcl.

locals {
  labels = merge(var.labels, {
    app        = var.prefix
    env        = var.env
    managed-by = "terraform"
  })
  services = {
    bigquery           = "bigquery.googleapis.com"
    bigqueryconnection = "bigqueryconnection.googleapis.com"
    cloudkms           = "cloudkms.googleapis.com"
    compute            = "compute.googleapis.com"
    dataproc           = "dataproc.googleapis.com"
    iam                = "iam.googleapis.com"
    storage            = "storage.googleapis.com"
  }
  # Where `lakehouse views export --dialect bigquery` writes (repository root/build/views/bigquery).
  views_dir = coalesce(var.views_dir, "${path.root}/../../../../build/views/bigquery")
}

resource "google_project_service" "main" {
  for_each           = local.services
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

module "storage" {
  source                 = "../../modules/storage"
  create_kms_key         = var.create_kms_key
  env                    = var.env
  kms_key_id             = var.kms_key_id
  labels                 = local.labels
  location               = var.region
  prefix                 = var.prefix
  project_id             = var.project_id
  staging_retention_days = var.staging_retention_days
  temp_retention_days    = var.temp_retention_days
  depends_on             = [google_project_service.main]
}

module "dataproc" {
  source         = "../../modules/dataproc"
  cluster        = var.cluster
  env            = var.env
  kms_key_id     = module.storage.kms_key_id
  labels         = local.labels
  prefix         = var.prefix
  project_id     = var.project_id
  region         = var.region
  staging_bucket = module.storage.buckets["staging"]
  subnet_cidr    = var.subnet_cidr
  temp_bucket    = module.storage.buckets["temp"]
  depends_on     = [google_project_service.main]
}

module "bigquery" {
  source      = "../../modules/bigquery"
  env         = var.env
  gold_bucket = module.storage.buckets["gold"]
  labels      = local.labels
  location    = var.region
  prefix      = var.prefix
  project_id  = var.project_id
  views_dir   = local.views_dir
  depends_on  = [google_project_service.main]
}

module "iam" {
  source                     = "../../modules/iam"
  bigquery_connection_member = module.bigquery.connection_member
  buckets                    = module.storage.buckets
  clients                    = var.clients
  deployer_impersonators     = var.deployer_impersonators
  job_service_account_id     = module.dataproc.service_account_id
  job_service_account_member = module.dataproc.service_account_member
  prefix                     = var.prefix
  project_id                 = var.project_id
  views_dataset_id           = module.bigquery.views_dataset_id
}
