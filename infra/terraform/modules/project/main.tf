# The environment's project as the other modules see it: the APIs they need, the custom roles of
# the lakehouse, and the project's service agents. Project-level IAM is in iam.tf.

data "google_project" "main" {
  project_id = var.project_id
}

resource "google_project_service" "main" {
  for_each           = var.services
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_project_iam_custom_role" "main" {
  for_each    = var.custom_roles
  project     = var.project_id
  role_id     = "${replace(var.prefix, "-", "_")}_${each.key}"
  title       = each.value.title
  description = each.value.description
  permissions = each.value.permissions
}
