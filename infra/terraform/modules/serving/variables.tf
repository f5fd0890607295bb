variable "env" {
  description = "Environment name: part of the service and secret names, and LAKEHOUSE_ENV of the container."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "image" {
  description = "Container image of the API (runs `lakehouse serve`), e.g. europe-west1-docker.pkg.dev/P/lakehouse/api:1.2.0; null creates no service (the secret and service account still exist)."
  type        = string
  default     = null
}

variable "ingress" {
  description = "Who can reach the service: INGRESS_TRAFFIC_ALL (the internet, still only invokers with a Google identity), INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"
  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "invokers" {
  description = "Principals allowed to call the service (roles/run.invoker), by a stable name; public principals are refused. Each call also needs an API key."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.invokers) : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", member))])
    error_message = "invokers values must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "key_managers" {
  description = "Principals allowed to add versions of the API key secret (roles/secretmanager.secretVersionAdder on it only), by a stable name."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.key_managers) : can(regex("^(user|group|serviceAccount):[^ ]+$", member))])
    error_message = "key_managers values must be user:, group: or serviceAccount: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "labels" {
  description = "Labels put on the service, its revisions and the secret."
  type        = map(string)
  default     = {}
}

variable "max_instances" {
  description = "Most container instances the service scales out to (it scales to zero when idle)."
  type        = number
  default     = 4
  validation {
    condition     = var.max_instances >= 1
    error_message = "max_instances must be at least 1."
  }
}

variable "memory" {
  description = "Memory limit of a container instance (Cloud Run syntax, e.g. 1Gi)."
  type        = string
  default     = "1Gi"
}

variable "prefix" {
  description = "Name prefix: service <prefix>-<env>-api, secret <prefix>-<env>-api-keys, service account <prefix>-api."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 2-16 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "project_id" {
  description = "Project of the environment (GOOGLE_CLOUD_PROJECT of the container)."
  type        = string
}

variable "region" {
  description = "Region of the service and of the secret's only replica."
  type        = string
}

variable "views_dataset_id" {
  description = "Dataset of the client views the API queries (LAKEHOUSE_BIGQUERY_DATASET)."
  type        = string
}
