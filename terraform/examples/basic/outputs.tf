output "service_url" {
  description = "HTTPS URL of the tally service."
  value       = module.tally.service_url
}

output "service_host" {
  description = "host:443 to dial with grpcurl or tally --addr."
  value       = module.tally.service_host
}

output "service_account_email" {
  description = "Service account tallyd runs as."
  value       = module.tally.service_account_email
}

output "image_repository" {
  description = "Where to push tallyd images (KO_DOCKER_REPO)."
  value       = module.tally.image_repository
}

output "database_name" {
  description = "Firestore database holding the counters."
  value       = module.tally.database_name
}
