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

# Optional row-level security: the location ids each client (key of clients) may see.
# client_locations = { finance = ["loc-001", "loc-002"] }
client_locations = {}

# Uncomment to add an autoscaling cluster (Spark 3.5 + Delta) next to Serverless:
# cluster = { min_workers = 2, max_workers = 4 }
cluster = null

create_kms_key         = false
staging_retention_days = 14
temp_retention_days    = 7

# Client query API on Cloud Run (null: none). Invokers need a Google identity, and an API key.
serving_image        = null
serving_invokers     = {}
serving_key_managers = {}

# The pipeline on Cloud Scheduler (needs build/schedule/dev.json, see docs/infrastructure.md).
# Paused in dev: run it by hand with `gcloud scheduler jobs run`.
pipeline_schedule           = "0 3 * * *"
pipeline_schedule_paused    = true
pipeline_schedule_time_zone = "Etc/UTC"
alert_notification_channels = []
