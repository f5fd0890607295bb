# Where and as whom the Spark jobs run: a dedicated service account, a subnetwork with Private
# Google Access for Dataproc Serverless, and an optional autoscaling cluster (Spark 3.5 + Delta).
# Nothing here runs as the Compute Engine default service account. Who may act as the job service
# account is in iam.tf; the CMEK key's grants live with the key (storage module).

locals {
  cluster_name = "${var.prefix}-${var.env}"
}

resource "google_service_account" "main" {
  project      = var.project_id
  account_id   = "${var.prefix}-jobs"
  display_name = "Lakehouse Spark jobs (${var.env})"
  description  = "Runs the lakehouse Dataproc batches and cluster VMs; granted per bucket, never project-wide storage roles."
}

resource "google_dataproc_autoscaling_policy" "main" {
  count     = var.cluster == null ? 0 : 1
  project   = var.project_id
  location  = var.region
  policy_id = "${local.cluster_name}-autoscaling"

  worker_config {
    min_instances = var.cluster.min_workers
    max_instances = var.cluster.max_workers
  }

  secondary_worker_config {
    min_instances = 0
    max_instances = var.cluster.max_secondary_workers
  }

  basic_algorithm {
    cooldown_period = "120s"
    yarn_config {
      graceful_decommission_timeout = "600s"
      scale_up_factor               = 0.5
      scale_down_factor             = 0.5
    }
  }
}

resource "google_dataproc_cluster" "main" {
  count   = var.cluster == null ? 0 : 1
  project = var.project_id
  name    = local.cluster_name
  region  = var.region
  labels  = var.labels

  cluster_config {
    staging_bucket = var.staging_bucket
    temp_bucket    = var.temp_bucket

    gce_cluster_config {
      subnetwork             = google_compute_subnetwork.main.id
      internal_ip_only       = true
      service_account        = google_service_account.main.email
      service_account_scopes = ["cloud-platform"]
      tags                   = [local.cluster_name]

      shielded_instance_config {
        enable_secure_boot          = true
        enable_vtpm                 = true
        enable_integrity_monitoring = true
      }
    }

    master_config {
      num_instances = 1
      machine_type  = var.cluster.master_machine_type
      disk_config {
        boot_disk_type    = "pd-balanced"
        boot_disk_size_gb = var.cluster.boot_disk_size_gb
      }
    }

    worker_config {
      num_instances = var.cluster.min_workers
      machine_type  = var.cluster.worker_machine_type
      disk_config {
        boot_disk_type    = "pd-balanced"
        boot_disk_size_gb = var.cluster.boot_disk_size_gb
      }
    }

    preemptible_worker_config {
      num_instances  = 0
      preemptibility = "SPOT"
    }

    software_config {
      image_version       = var.cluster.image_version
      optional_components = ["DELTA"]
    }

    autoscaling_config {
      policy_uri = google_dataproc_autoscaling_policy.main[0].name
    }

    endpoint_config {
      enable_http_port_access = false
    }

    dynamic "encryption_config" {
      for_each = var.kms_key_id == null ? [] : [var.kms_key_id]
      content {
        kms_key_name = encryption_config.value
      }
    }
  }

  lifecycle {
    # The autoscaling policy owns the worker counts once the cluster exists.
    ignore_changes = [
      cluster_config[0].worker_config[0].num_instances,
      cluster_config[0].preemptible_worker_config[0].num_instances,
    ]
  }
}
