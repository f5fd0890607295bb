variable "impersonators" {
  description = "Principals allowed to impersonate the deployer for `make submit`, by a stable name, e.g. { ci = \"serviceAccount:ci@p.iam.gserviceaccount.com\" }."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for member in values(var.impersonators) : can(regex("^(user|group|serviceAccount):[^ ]+$", member))])
    error_message = "impersonators values must be user:, group: or serviceAccount: members; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "prefix" {
  description = "Name prefix: the service account is <prefix>-deployer."
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
