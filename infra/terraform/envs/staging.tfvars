# staging: the rehearsal of prod: Dataproc Serverless, customer-managed encryption keys as in prod.
# Names match conf/env/staging.yaml.
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

# Optional row-level security: the location ids each client (key of clients) may see.
# client_locations = { finance = ["loc-001", "loc-002"] }
client_locations = {}

cluster = null

create_kms_key         = true
staging_retention_days = 30
temp_retention_days    = 14

# Client query API on Cloud Run (null: none). Invokers need a Google identity, and an API key.
serving_image        = null
serving_invokers     = {}
serving_key_managers = {}

# The pipeline on Cloud Scheduler (needs build/schedule/staging.json, see docs/infrastructure.md).
pipeline_schedule           = "0 3 * * *"
pipeline_schedule_paused    = false
pipeline_schedule_time_zone = "Etc/UTC"
alert_notification_channels = []
