# dev: Dataproc Serverless only, Google-managed encryption. Names match conf/env/dev.yaml.
env        = "dev"
project_id = "lakehouse-dev"
region     = "europe-west1"

labels = {
  cost-center = "data-platform"
}

# People and CI that may run `make submit` (impersonating the deployer), by a stable name.
deployer_impersonators = {}

# Client principals by a stable name: dataViewer on the views dataset, jobUser on the project.
clients = {}

# Uncomment to add an autoscaling cluster (Spark 3.5 + Delta) next to Serverless:
# cluster = { min_workers = 2, max_workers = 4 }
cluster = null

create_kms_key         = false
staging_retention_days = 14
temp_retention_days    = 7
