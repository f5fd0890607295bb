# staging: production-like, Dataproc Serverless only. Names match conf/env/staging.yaml.
env        = "staging"
project_id = "lakehouse-staging"
region     = "europe-west1"

labels = {
  cost-center = "data-platform"
}

# People and CI that may run `make submit` (impersonating the deployer), by a stable name.
deployer_impersonators = {}

# Client principals by a stable name: dataViewer on the views dataset, jobUser on the project.
clients = {}

cluster = null

create_kms_key         = false
staging_retention_days = 30
temp_retention_days    = 14
