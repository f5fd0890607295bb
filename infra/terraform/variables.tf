variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) for the pipeline alerts; empty: incidents show only in the console."
  type        = list(string)
  default     = []
}

variable "client_locations" {
  description = "Optional row-level security: the location ids each client (a key of clients; letters, digits, underscores) may see, e.g. { north = [\"loc-001\", \"loc-002\"] }; [\"*\"] = every location. Empty: no row access policy, every client sees every location. Non-empty: a client left out sees no rows of the per-location tables."
  type        = map(list(string))
  default     = {}
  validation {
    condition     = alltrue([for key in keys(var.client_locations) : can(regex("^[A-Za-z0-9_]+$", key))])
    error_message = "client_locations keys must be client keys made of letters, digits and underscores (they become row access policy ids)."
  }
}

variable "clients" {
  description = "Client principals by a stable name (e.g. { finance = \"group:finance@example.com\" }): BigQuery dataViewer on the client views dataset and jobUser on the project."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.clients) : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", member))])
    error_message = "clients values must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "cluster" {
  description = "Optional autoscaling Dataproc cluster (see modules/dataproc); null runs the jobs on Dataproc Serverless only."
  type = object({
    boot_disk_size_gb     = optional(number, 100)
    image_version         = optional(string, "2.2-debian12")
    master_machine_type   = optional(string, "n2-standard-4")
    max_secondary_workers = optional(number, 0)
    max_workers           = optional(number, 4)
    min_workers           = optional(number, 2)
    worker_machine_type   = optional(string, "n2-standard-4")
  })
  default = null
}

variable "create_kms_key" {
  description = "Create a CMEK key for the buckets (and the cluster's disks)."
  type        = bool
  default     = false
}

variable "deployer_impersonators" {
  description = "Principals (people, CI) allowed to impersonate the deployer service account for `make submit`, by a stable name."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.deployer_impersonators) : can(regex("^(user|group|serviceAccount):[^ ]+$", member))])
    error_message = "deployer_impersonators values must be user:, group: or serviceAccount: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "env" {
  description = "Environment name: dev, staging or prod (the envs/<env>.tfvars file that sets it)."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "kms_key_id" {
  description = "Existing Cloud KMS key for the buckets and the cluster's disks; null for Google-managed keys or when create_kms_key is true."
  type        = string
  default     = null
}

variable "labels" {
  description = "Extra labels for every resource; app, env and managed-by are always added."
  type        = map(string)
  default     = {}
}

variable "pipeline_batch_file" {
  description = "Dataproc Batch JSON the scheduler posts (the body of `lakehouse submit pipeline --dry-run`); null uses build/schedule/<env>.json at the repository root. No scheduler job while the file does not exist."
  type        = string
  default     = null
}

variable "pipeline_schedule" {
  description = "When the pipeline runs, as unix-cron (e.g. \"0 3 * * *\": daily at 03:00 in pipeline_schedule_time_zone)."
  type        = string
  default     = "0 3 * * *"
}

variable "pipeline_schedule_paused" {
  description = "Pause the pipeline's scheduler job (it stays, but does not run until set back to false)."
  type        = bool
  default     = false
}

variable "pipeline_schedule_time_zone" {
  description = "Time zone of pipeline_schedule (tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "prefix" {
  description = "Name prefix of every resource; conf/env/<env>.yaml expects lakehouse."
  type        = string
  default     = "lakehouse"
}

variable "project_id" {
  description = "Project of the environment (lakehouse-<env> in conf/env/<env>.yaml)."
  type        = string
}

variable "region" {
  description = "Region of the buckets, the Dataproc subnetwork, the BigQuery datasets, the API and the scheduler."
  type        = string
  default     = "europe-west1"
}

variable "serving_image" {
  description = "Container image of the client query API (`lakehouse serve`) on Cloud Run; null: no service (its secret and service account still exist)."
  type        = string
  default     = null
}

variable "serving_ingress" {
  description = "Ingress of the query API: INGRESS_TRAFFIC_ALL (callers still need roles/run.invoker and an API key), INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"
}

variable "serving_invokers" {
  description = "Principals allowed to call the query API (roles/run.invoker), by a stable name; public principals are refused."
  type        = map(string)
  default     = {}
}

variable "serving_key_managers" {
  description = "Principals allowed to add versions of the API key secret (`lakehouse keys` / gcloud), by a stable name."
  type        = map(string)
  default     = {}
}

variable "staging_retention_days" {
  description = "Days after which staged code (code/, conf/, jobs/) and cluster driver output in the staging bucket are deleted; jars/ is kept."
  type        = number
  default     = 30
}

variable "subnet_cidr" {
  description = "Primary IPv4 range of the Dataproc subnetwork."
  type        = string
  default     = "10.10.0.0/20"
}

variable "temp_retention_days" {
  description = "Days after which objects in the temp bucket are deleted."
  type        = number
  default     = 14
}

variable "views_dir" {
  description = "Folder of the exported client view SQL; null uses build/views/bigquery at the repository root."
  type        = string
  default     = null
}
