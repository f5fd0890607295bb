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
  description = "Gold tables exposed as external tables, by table id; path is the folder under the gold bucket (default: the table id)."
  type = map(object({
    description = string
    path        = optional(string)
  }))
  default = {
    billing_health            = { description = "gold.billing_health: billing and payment health KPIs." }
    churn_retention           = { description = "gold.churn_retention: churn and retention KPIs." }
    churn_risk                = { description = "gold.churn_risk: churn risk score per customer from the scoring model." }
    location_scorecard        = { description = "gold.location_scorecard: KPI scorecard per location." }
    location_scorecard_bottom = { description = "gold.location_scorecard_bottom: the worst-ranked locations of the scorecard." }
    model_metrics             = { description = "gold.model_metrics: metrics of each churn model run." }
  }
  validation {
    condition     = alltrue([for name, table in var.tables : can(regex("^[a-z][a-z0-9_]*$", name))])
    error_message = "tables keys are BigQuery table ids: lower case letters, digits and underscores."
  }
}

variable "views_dir" {
  description = "Folder of client view files, one <view>.sql SELECT per view (BigQuery dialect), where `$${project}.$${dataset}` names the gold dataset; null creates no views."
  type        = string
  default     = null
}
