variable "batch_file" {
  description = "Path of the Dataproc Batch JSON (REST wire format, camelCase) the scheduler posts: the body `lakehouse submit pipeline --dry-run` prints. When the file does not exist no scheduler job is created."
  type        = string
}

variable "env" {
  description = "Environment name, part of the job name <prefix>-<env>-pipeline."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "job_service_account_email" {
  description = "Email of the job service account; the batch in batch_file must run as it (the scheduler may act as no other)."
  type        = string
}

variable "paused" {
  description = "Create the job paused (no runs until resumed or set back to false)."
  type        = bool
  default     = false
}

variable "prefix" {
  description = "Name prefix: the service account is <prefix>-scheduler, the job <prefix>-<env>-pipeline."
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
  description = "Region of the scheduler job and of the Dataproc batches."
  type        = string
}

variable "retry_count" {
  description = "Attempts after a failed batches.create call (0 to 5), with exponential backoff from 60 s to 600 s."
  type        = number
  default     = 3
  validation {
    condition     = var.retry_count >= 0 && var.retry_count <= 5
    error_message = "retry_count must be between 0 and 5."
  }
}

variable "schedule" {
  description = "When the pipeline runs, as a unix-cron expression (e.g. \"0 3 * * *\": every day at 03:00)."
  type        = string
  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a unix-cron expression with five fields, e.g. \"0 3 * * *\"."
  }
}

variable "time_zone" {
  description = "Time zone of schedule (tz database name, e.g. Etc/UTC or Europe/Brussels)."
  type        = string
  default     = "Etc/UTC"
}
