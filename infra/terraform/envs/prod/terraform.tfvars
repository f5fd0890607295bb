# prod: Dataproc Serverless, customer-managed encryption keys. Names match conf/env/prod.yaml.
env        = "prod"
project_id = "lakehouse-prod"
region     = "europe-west1"

labels = {
  cost-center = "data-platform"
}

# People and CI that may run `make submit` (impersonating the deployer), by a stable name.
deployer_impersonators = {}

# Client principals by a stable name: dataViewer on the views dataset, jobUser on the project.
clients = {}

cluster = null

create_kms_key         = true
staging_retention_days = 30
temp_retention_days    = 14
