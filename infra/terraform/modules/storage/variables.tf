variable "bucket_iam" {
  description = "Additive object-level grants on the buckets by a stable name: bucket (a bucket key such as gold), role (an object-level storage role), member, and optionally object_prefix to limit the grant to objects under that prefix."
  type = map(object({
    bucket        = string
    member        = string
    object_prefix = optional(string)
    role          = string
  }))
  default = {}
  validation {
    condition     = alltrue([for binding in values(var.bucket_iam) : contains(["bronze", "gold", "landing", "silver", "staging", "temp", "warehouse"], binding.bucket)])
    error_message = "bucket_iam buckets must be bucket keys: bronze, gold, landing, silver, staging, temp or warehouse."
  }
  validation {
    condition     = alltrue([for binding in values(var.bucket_iam) : contains(["roles/storage.objectCreator", "roles/storage.objectUser", "roles/storage.objectViewer"], binding.role)])
    error_message = "bucket_iam roles must be objectViewer, objectCreator or objectUser: nobody needs to change a bucket's or an object's IAM (objectAdmin)."
  }
  validation {
    condition     = alltrue([for binding in values(var.bucket_iam) : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", binding.member))])
    error_message = "bucket_iam members must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "create_kms_key" {
  description = "Create a key ring and key for the buckets' default encryption (CMEK) and let the Cloud Storage service agent use it. To use an existing key, set kms_key_id instead."
  type        = bool
  default     = false
}

variable "env" {
  description = "Environment name, part of every bucket name: <prefix>-<env>-<bucket>."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "kms_key_iam" {
  description = "Extra members allowed to encrypt and decrypt with the CMEK key, by a stable name (e.g. the Compute Engine and Dataproc agents of a cluster whose disks use it); the Cloud Storage agent is always granted. Ignored without CMEK."
  type        = map(string)
  default     = {}
}

variable "kms_key_id" {
  description = "Id of an existing Cloud KMS key (projects/.../cryptoKeys/...) for the buckets' default encryption; null for Google-managed keys. Ignored when create_kms_key is true."
  type        = string
  default     = null
  validation {
    condition     = var.kms_key_id == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key_id))
    error_message = "kms_key_id must look like projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "kms_rotation_period" {
  description = "Rotation period of the key created by create_kms_key, in seconds with an s suffix (at most 90 days)."
  type        = string
  default     = "7776000s"
  validation {
    condition     = can(regex("^[0-9]+s$", var.kms_rotation_period)) && tonumber(trimsuffix(var.kms_rotation_period, "s")) <= 7776000
    error_message = "kms_rotation_period must be like 7776000s and at most 90 days."
  }
}

variable "labels" {
  description = "Labels put on every bucket (a `layer` label with the bucket key is added)."
  type        = map(string)
  default     = {}
}

variable "location" {
  description = "Bucket location: the Dataproc region, so jobs read and write without cross-region traffic."
  type        = string
}

variable "noncurrent_version_retention_days" {
  description = "Days a noncurrent object version is kept in the versioned data buckets before it is deleted."
  type        = number
  default     = 30
  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "prefix" {
  description = "Name prefix of every resource (lower case letters, digits and dashes)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 2-16 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "project_id" {
  description = "Project that holds the buckets."
  type        = string
}

variable "soft_delete_retention_days" {
  description = "Soft-delete retention of the versioned data buckets, in days (7 to 90); staging and temp have none."
  type        = number
  default     = 7
  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be between 7 and 90."
  }
}

variable "staging_expiring_prefixes" {
  description = "Object prefixes in the staging bucket that expire after staging_retention_days: what `lakehouse submit` stages (code/, conf/, jobs/, content-hashed and re-uploaded when missing) and cluster driver output. jars/ (the Delta jars) is kept."
  type        = list(string)
  default     = ["code/", "conf/", "google-cloud-dataproc-metainfo/", "jobs/"]
}

variable "staging_retention_days" {
  description = "Age in days after which objects under staging_expiring_prefixes are deleted."
  type        = number
  default     = 30
  validation {
    condition     = var.staging_retention_days >= 1
    error_message = "staging_retention_days must be at least 1."
  }
}

variable "temp_retention_days" {
  description = "Age in days after which every object in the temp bucket (Spark history, shuffle spill) is deleted."
  type        = number
  default     = 14
  validation {
    condition     = var.temp_retention_days >= 1
    error_message = "temp_retention_days must be at least 1."
  }
}
