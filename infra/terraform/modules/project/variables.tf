variable "custom_roles" {
  description = "Custom project roles by key; the role id is <prefix with underscores>_<key>, and iam_bindings may name a custom role by its key."
  type = map(object({
    description = string
    permissions = list(string)
    title       = string
  }))
  default = {}
  validation {
    condition     = alltrue([for key, role in var.custom_roles : can(regex("^[a-z][a-z0-9_]*$", key)) && length(role.permissions) > 0])
    error_message = "custom_roles keys must be lower case letters, digits and underscores, and each role needs at least one permission."
  }
}

variable "iam_bindings" {
  description = "Additive project-level grants by a stable name: member (user:, group:, serviceAccount: or domain:) and role (roles/... or a key of custom_roles). Primitive roles and public principals are refused."
  type = map(object({
    member = string
    role   = string
  }))
  default = {}
  validation {
    condition     = alltrue([for binding in values(var.iam_bindings) : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", binding.member))])
    error_message = "iam_bindings members must be user:, group:, serviceAccount: or domain: members; allUsers and allAuthenticatedUsers are refused."
  }
  validation {
    condition     = alltrue([for binding in values(var.iam_bindings) : !can(regex("^roles/(owner|editor|viewer)$", binding.role))])
    error_message = "iam_bindings must not grant primitive roles (owner, editor, viewer)."
  }
  validation {
    condition     = alltrue([for binding in values(var.iam_bindings) : can(regex("^(roles/[A-Za-z0-9_.]+|[a-z][a-z0-9_]*)$", binding.role))])
    error_message = "iam_bindings roles must be predefined roles (roles/...) or the key of a custom role."
  }
}

variable "prefix" {
  description = "Name prefix: custom role ids are <prefix with underscores>_<key>."
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

variable "services" {
  description = "APIs to enable, by a stable name (never disabled on destroy)."
  type        = map(string)
  default     = {}
}
