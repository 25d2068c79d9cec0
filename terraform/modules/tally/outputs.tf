output "service_url" {
  description = "HTTPS URL of the Cloud Run service. gRPC clients dial its host on port 443 with TLS, e.g. tally-abc123-ew.a.run.app:443."
  value       = google_cloud_run_v2_service.tally.uri
}

output "service_host" {
  description = "host:443 of the service, the address for grpcurl and tally --addr."
  value       = "${trimprefix(google_cloud_run_v2_service.tally.uri, "https://")}:443"
}

output "service_name" {
  description = "Name of the Cloud Run service."
  value       = google_cloud_run_v2_service.tally.name
}

output "service_account_email" {
  description = "Email of the service account tallyd runs as."
  value       = google_service_account.tally.email
}

output "database_name" {
  description = "Firestore database id tally stores its counters in."
  value       = google_firestore_database.tally.name
}

output "image_repository" {
  description = "Where to push tallyd images (KO_DOCKER_REPO, or docker tag REPOSITORY/tallyd); null when the module does not create the repository."
  value       = var.create_artifact_registry ? "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.tally[0].repository_id}" : null
}

output "tokens_file" {
  description = "Path of the token policy file inside the container, or null when tallyd runs without tokens (Cloud Run IAM only)."
  value       = local.use_tokens ? local.tokens_file : null
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard."
  value       = google_monitoring_dashboard.tally.id
}
