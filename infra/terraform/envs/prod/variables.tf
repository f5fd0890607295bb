variable "clients" {
  description = "Client principals by a stable name (e.g. { finance = \"group:finance@example.com\" }): BigQuery dataViewer on the client views dataset and jobUser on the project."
  type        = map(string)
  default     = {}
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
}

variable "env" {
  description = "Environment name: dev, staging or prod (must match the folder under envs/)."
  type        = string
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
  description = "Region of the buckets, the Dataproc subnetwork and the BigQuery datasets."
  type        = string
  default     = "europe-west1"
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
