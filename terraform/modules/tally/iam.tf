# tallyd runs as its own service account with only what it needs: read and write Firestore
# documents (roles/datastore.user, on tally's database alone unless restrict_iam_to_database is
# off), read the token secret (secrets.tf) and, with the Prometheus sidecar, write metrics.

resource "google_service_account" "tally" {
  project      = var.project_id
  account_id   = "${var.name}-run"
  display_name = "tally (${var.name}) on Cloud Run"
  description  = "Runs the tallyd Cloud Run service ${var.name}: reads and writes the counters in Firestore database ${var.database_id}."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.tally.member

  dynamic "condition" {
    for_each = var.restrict_iam_to_database ? [1] : []
    content {
      title       = "${var.name}-database-only"
      description = "Only the Firestore database ${var.database_id}."
      expression  = "resource.name == \"projects/${var.project_id}/databases/${var.database_id}\""
    }
  }
}

resource "google_project_iam_member" "metric_writer" {
  count = var.enable_managed_prometheus ? 1 : 0

  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.tally.member
}

# Who may call the service. Never allUsers or allAuthenticatedUsers: the variable's validation
# refuses them, and the Go tests check every member in this module.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.tally.name
  role     = "roles/run.invoker"
  member   = each.value
}
