variable "bigquery_connection_member" {
  description = "IAM member of the BigLake connection's service account (bigquery module output connection_member); granted objectViewer on the gold bucket."
  type        = string
  validation {
    condition     = startswith(var.bigquery_connection_member, "serviceAccount:")
    error_message = "bigquery_connection_member must be serviceAccount:<email>."
  }
}

variable "buckets" {
  description = "Bucket name by key (storage module output buckets); must hold every key of job_bucket_roles, plus gold and staging."
  type        = map(string)
  validation {
    condition     = contains(keys(var.buckets), "gold") && contains(keys(var.buckets), "staging")
    error_message = "buckets must include the gold and staging buckets."
  }
}

variable "clients" {
  description = "Client principals by a stable name, e.g. { finance = \"group:finance@example.com\" }: BigQuery dataViewer on the views dataset and jobUser on the project."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.clients) : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", member))])
    error_message = "clients values must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "deployer_impersonators" {
  description = "Principals allowed to impersonate the deployer service account for `make submit`, by a stable name, e.g. { ci = \"serviceAccount:ci@p.iam.gserviceaccount.com\" }."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.deployer_impersonators) : can(regex("^(user|group|serviceAccount):[^ ]+$", member))])
    error_message = "deployer_impersonators values must be user:, group: or serviceAccount: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "job_bucket_roles" {
  description = "Object role of the job service account on each bucket, by bucket key: objectAdmin where jobs write, objectViewer where they only read."
  type        = map(string)
  default = {
    bronze    = "roles/storage.objectAdmin"
    gold      = "roles/storage.objectAdmin"
    landing   = "roles/storage.objectViewer"
    silver    = "roles/storage.objectAdmin"
    staging   = "roles/storage.objectViewer"
    temp      = "roles/storage.objectAdmin"
    warehouse = "roles/storage.objectAdmin"
  }
  validation {
    condition     = alltrue([for role in values(var.job_bucket_roles) : contains(["roles/storage.objectAdmin", "roles/storage.objectUser", "roles/storage.objectViewer", "roles/storage.objectCreator"], role)])
    error_message = "job_bucket_roles values must be object-level storage roles (objectAdmin, objectUser, objectCreator or objectViewer)."
  }
}

variable "job_service_account_id" {
  description = "Id (projects/P/serviceAccounts/EMAIL) of the job service account the deployer may act as."
  type        = string
}

variable "job_service_account_member" {
  description = "The job service account as an IAM member (dataproc module output service_account_member)."
  type        = string
  validation {
    condition     = startswith(var.job_service_account_member, "serviceAccount:") && !endswith(var.job_service_account_member, "-compute@developer.gserviceaccount.com")
    error_message = "job_service_account_member must be a dedicated serviceAccount:, not the Compute Engine default service account."
  }
}

variable "prefix" {
  description = "Name prefix: the deployer service account is <prefix>-deployer."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 2-16 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "project_id" {
  description = "Project of the environment."
  type        = string
}

variable "views_dataset_id" {
  description = "Dataset of the client views (bigquery module output views_dataset_id): the only dataset clients are granted."
  type        = string
}
