variable "cluster" {
  description = "Optional Dataproc cluster (image 2.2 = Spark 3.5, with the DELTA component) autoscaled between min_workers and max_workers; null runs everything on Dataproc Serverless."
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
  validation {
    condition     = var.cluster == null || try(var.cluster.min_workers >= 2 && var.cluster.max_workers >= var.cluster.min_workers, false)
    error_message = "cluster needs min_workers >= 2 and max_workers >= min_workers."
  }
  validation {
    condition     = var.cluster == null || can(regex("^2\\.2", try(var.cluster.image_version, "")))
    error_message = "cluster.image_version must be a 2.2 image (Spark 3.5; the DELTA component needs 2.2.46 or later)."
  }
}

variable "env" {
  description = "Environment name, part of the cluster name and the service account's display name."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "flow_log_sampling" {
  description = "Fraction of the subnetwork's VPC flows logged (0 to 1)."
  type        = number
  default     = 0.5
  validation {
    condition     = var.flow_log_sampling >= 0 && var.flow_log_sampling <= 1
    error_message = "flow_log_sampling must be between 0 and 1."
  }
}

variable "kms_key_id" {
  description = "Cloud KMS key encrypting the cluster's disks; null for Google-managed keys. The Compute Engine and Dataproc service agents must be allowed to use it first (the storage module's kms_key_iam); pass the storage module's kms_key_id output, which waits for those grants."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels put on the cluster and its VMs."
  type        = map(string)
  default     = {}
}

variable "prefix" {
  description = "Name prefix: the job service account is <prefix>-jobs, the subnetwork <prefix>-dataproc."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 2-16 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "project_id" {
  description = "Project that runs the jobs."
  type        = string
}

variable "region" {
  description = "Region of the subnetwork, the batches and the cluster."
  type        = string
}

variable "service_account_iam" {
  description = "Additive grants on the job service account by a stable name, e.g. { deployer_act_as = { member = \"serviceAccount:...\", role = \"roles/iam.serviceAccountUser\" } } for whoever submits batches running as it."
  type = map(object({
    member = string
    role   = string
  }))
  default = {}
  validation {
    condition     = alltrue([for binding in values(var.service_account_iam) : contains(["roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"], binding.role)])
    error_message = "service_account_iam roles must be roles/iam.serviceAccountUser or roles/iam.serviceAccountTokenCreator."
  }
  validation {
    condition     = alltrue([for binding in values(var.service_account_iam) : can(regex("^(user|group|serviceAccount):[^ ]+$", binding.member))])
    error_message = "service_account_iam members must be user:, group: or serviceAccount: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "staging_bucket" {
  description = "Name of the bucket for job dependencies and driver output (the storage module's staging bucket)."
  type        = string
}

variable "subnet_cidr" {
  description = "Primary IPv4 range of the Dataproc subnetwork."
  type        = string
  default     = "10.10.0.0/20"
  validation {
    condition     = can(cidrnetmask(var.subnet_cidr))
    error_message = "subnet_cidr must be an IPv4 CIDR range such as 10.10.0.0/20."
  }
}

variable "temp_bucket" {
  description = "Name of the bucket for ephemeral job data such as Spark history (the storage module's temp bucket)."
  type        = string
}
