# Who may do what, in one place: each map is handed to the module that owns the resource it grants
# on (project, buckets, the job service account, the client views dataset, the gold tables' rows).
# Every grant is additive and keyed by a stable name; no primitive roles, no public principals.

locals {
  jobs      = module.dataproc.service_account_member
  deployer  = module.deployer.member
  scheduler = module.schedule.service_account_member
  serving   = module.serving.service_account_member

  # Custom roles (modules/project), referred to by key in project_iam. No predefined role is this
  # narrow: roles/dataproc.editor would also let them create and delete clusters.
  custom_roles = {
    scheduler = {
      title       = "Lakehouse scheduled pipeline"
      description = "Create Dataproc Serverless batches and read them back; nothing else."
      permissions = ["dataproc.batches.create", "dataproc.batches.get"]
    }
    submitter = {
      title       = "Lakehouse job submitter"
      description = "Submit and follow Dataproc Serverless batches and cluster jobs; no cluster administration."
      permissions = [
        "dataproc.batches.cancel",
        "dataproc.batches.create",
        "dataproc.batches.get",
        "dataproc.batches.list",
        "dataproc.clusters.get",
        "dataproc.clusters.use",
        "dataproc.jobs.cancel",
        "dataproc.jobs.create",
        "dataproc.jobs.get",
        "dataproc.jobs.list",
        "dataproc.operations.get",
      ]
    }
  }

  # Project level (modules/project): only roles that exist there. jobUser lets a principal run
  # query jobs; it grants no data.
  project_iam = {
    deployer_submitter   = { member = local.deployer, role = "submitter" }
    jobs_dataproc_worker = { member = local.jobs, role = "roles/dataproc.worker" }
    scheduler_batches    = { member = local.scheduler, role = "scheduler" }
    serving_job_user     = { member = local.serving, role = "roles/bigquery.jobUser" }
  }
  client_project_iam = {
    for key, member in var.clients : "client_${key}_job_user" => { member = member, role = "roles/bigquery.jobUser" }
  }

  # Buckets (modules/storage). The jobs create, read, overwrite and delete objects (objectUser);
  # nothing needs to change IAM or ACLs (objectAdmin).
  job_bucket_roles = {
    bronze    = "roles/storage.objectUser"
    gold      = "roles/storage.objectUser"
    landing   = "roles/storage.objectViewer"
    silver    = "roles/storage.objectUser"
    staging   = "roles/storage.objectViewer"
    temp      = "roles/storage.objectUser"
    warehouse = "roles/storage.objectUser"
  }
  job_bucket_iam = {
    for bucket, role in local.job_bucket_roles : "jobs_${bucket}" => { bucket = bucket, member = local.jobs, role = role }
  }
  bucket_iam = {
    # The BigLake connection reads the gold files for the external tables.
    bigquery_connection_gold = { bucket = "gold", member = module.bigquery.connection_member, role = "roles/storage.objectViewer" }
    # `make submit` stages code and reads driver output.
    deployer_staging = { bucket = "staging", member = local.deployer, role = "roles/storage.objectUser" }
    # A cluster writes job driver output under this prefix as the job service account (Serverless
    # batches write to temp); the rest of the staging bucket stays read-only for the jobs.
    jobs_driver_output = { bucket = "staging", member = local.jobs, object_prefix = "google-cloud-dataproc-metainfo/", role = "roles/storage.objectUser" }
  }

  # The CMEK key (modules/storage) is used by the storage agent and, for a cluster's disks, by the
  # Compute Engine and Dataproc agents.
  kms_key_iam = var.cluster == null ? {} : {
    compute_agent  = module.project.service_agents["compute"]
    dataproc_agent = module.project.service_agents["dataproc"]
  }

  # The job service account itself (modules/dataproc): who may run batches as it.
  job_service_account_iam = {
    deployer_act_as  = { member = local.deployer, role = "roles/iam.serviceAccountUser" }
    scheduler_act_as = { member = local.scheduler, role = "roles/iam.serviceAccountUser" }
  }

  # The client views dataset (modules/bigquery): the only dataset clients and the API read.
  views_dataset_iam = {
    serving_api = { member = local.serving, role = "roles/bigquery.dataViewer" }
  }
  client_views_dataset_iam = {
    for key, member in var.clients : "client_${key}" => { member = member, role = "roles/bigquery.dataViewer" }
  }

  # Row-level security on the gold tables (modules/bigquery), when client_locations is set: each
  # listed client sees its locations only; the API sees every row (its keys choose the views).
  # A client missing from client_locations then sees no rows of the per-location tables.
  row_access = length(var.client_locations) == 0 ? {} : merge(
    { serving_api = { grantees = [local.serving], location_ids = ["*"] } },
    {
      # var.clients[key] fails when a client_locations key is not a key of clients.
      for key, location_ids in var.client_locations : "client_${key}" => { grantees = [var.clients[key]], location_ids = location_ids }
    },
  )
}
