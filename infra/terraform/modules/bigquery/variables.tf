variable "deletion_protection" {
  description = "Refuse to destroy the external tables and views from Terraform (set false before removing one)."
  type        = bool
  default     = true
}

variable "env" {
  description = "Environment name, part of the dataset ids: <prefix>_gold_<env> and <prefix>_client_<env>."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "gold_bucket" {
  description = "Name of the bucket holding the gold tables, each at gs://<gold_bucket>/<table path>/."
  type        = string
}

variable "labels" {
  description = "Labels put on the datasets and tables."
  type        = map(string)
  default     = {}
}

variable "location" {
  description = "Location of the datasets and the connection; the gold bucket's region."
  type        = string
}

variable "prefix" {
  description = "Name prefix (dashes become underscores in dataset ids)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 2-16 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "project_id" {
  description = "Project that holds the datasets."
  type        = string
}

variable "row_access" {
  description = "Row-level access policies by policy name (letters, digits, underscores), put on every table with a location_column: grantees (IAM members) see only rows whose location is in location_ids; [\"*\"] means every row. Empty: no policy, whoever may query the views sees every row. Once any policy exists, a principal in none of them sees no rows of those tables."
  type = map(object({
    grantees     = list(string)
    location_ids = list(string)
  }))
  default = {}
  validation {
    condition     = alltrue([for name in keys(var.row_access) : can(regex("^[A-Za-z_][A-Za-z0-9_]{0,127}$", name))])
    error_message = "row_access keys are row access policy ids: letters, digits and underscores, at most 128."
  }
  validation {
    condition = alltrue([
      for spec in values(var.row_access) :
      length(spec.location_ids) > 0 && (spec.location_ids == ["*"] || alltrue([for id in spec.location_ids : can(regex("^[A-Za-z0-9_.-]+$", id))]))
    ])
    error_message = "row_access location_ids must be [\"*\"] or a non-empty list of location ids (letters, digits, dots, underscores and dashes)."
  }
  validation {
    condition     = alltrue([for spec in values(var.row_access) : length(spec.grantees) > 0 && alltrue([for member in spec.grantees : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", member))])])
    error_message = "row_access grantees must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "source_format" {
  description = "Format of the gold tables: DELTA_LAKE in the cloud environments, PARQUET for a Parquet warehouse."
  type        = string
  default     = "DELTA_LAKE"
  validation {
    condition     = contains(["DELTA_LAKE", "PARQUET"], var.source_format)
    error_message = "source_format must be DELTA_LAKE or PARQUET."
  }
}

variable "tables" {
  description = "Gold tables exposed as external tables, by table id; path is the folder under the gold bucket (default: the table id); location_column names the column row_access filters on (null: the table has no per-location rows and gets no policy)."
  type = map(object({
    description     = string
    location_column = optional(string)
    path            = optional(string)
  }))
  default = {
    billing_health            = { description = "gold.billing_health: billing and payment health KPIs.", location_column = "location_id" }
    churn_retention           = { description = "gold.churn_retention: churn and retention KPIs.", location_column = "location_id" }
    churn_risk                = { description = "gold.churn_risk: churn risk score per customer from the scoring model.", location_column = "location_id" }
    location_scorecard        = { description = "gold.location_scorecard: KPI scorecard per location.", location_column = "location_id" }
    location_scorecard_bottom = { description = "gold.location_scorecard_bottom: the worst-ranked locations of the scorecard.", location_column = "location_id" }
    model_metrics             = { description = "gold.model_metrics: metrics of each churn model run." }
  }
  validation {
    condition     = alltrue([for name, table in var.tables : can(regex("^[a-z][a-z0-9_]*$", name))])
    error_message = "tables keys are BigQuery table ids: lower case letters, digits and underscores."
  }
}

variable "views_dataset_iam" {
  description = "Additive grants on the client views dataset by a stable name: member and role (roles/bigquery.dataViewer for clients and the query API)."
  type = map(object({
    member = string
    role   = string
  }))
  default = {}
  validation {
    condition     = alltrue([for binding in values(var.views_dataset_iam) : contains(["roles/bigquery.dataViewer", "roles/bigquery.metadataViewer"], binding.role)])
    error_message = "views_dataset_iam roles must be roles/bigquery.dataViewer or roles/bigquery.metadataViewer: nobody writes the client views through IAM."
  }
  validation {
    condition     = alltrue([for binding in values(var.views_dataset_iam) : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", binding.member))])
    error_message = "views_dataset_iam members must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "views_dir" {
  description = "Folder of client view files, one <view>.sql SELECT per view (BigQuery dialect), where `$${project}.$${dataset}` names the gold dataset; null creates no views."
  type        = string
  default     = null
}
