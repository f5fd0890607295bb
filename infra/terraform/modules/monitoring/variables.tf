variable "alert_marker" {
  description = "Text the jobs print in their driver output to raise an alert (the contract with the Python side)."
  type        = string
  default     = "LAKEHOUSE_ALERT severity=error"
  validation {
    condition     = length(var.alert_marker) > 0 && !strcontains(var.alert_marker, "\"")
    error_message = "alert_marker must be non-empty text without double quotes."
  }
}

variable "env" {
  description = "Environment name, part of the policies' display names."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "labels" {
  description = "User labels put on the alert policies."
  type        = map(string)
  default     = {}
}

variable "notification_channels" {
  description = "Notification channel ids (projects/P/notificationChannels/N) the alerts go to; empty: incidents are only visible in the console."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for channel in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", channel))])
    error_message = "notification_channels must be ids like projects/P/notificationChannels/N."
  }
}

variable "prefix" {
  description = "Name prefix, part of the policies' display names."
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

variable "region" {
  description = "Region of the batches the alerts watch."
  type        = string
}
