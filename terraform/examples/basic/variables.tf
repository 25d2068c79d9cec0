# The example's inputs; the module (../../modules/tally/variables.tf) has more, with defaults.

variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy tally into."
}

variable "region" {
  type        = string
  description = "Region of the Cloud Run service and the image repository, e.g. europe-west1."
  default     = "europe-west1"
}

variable "database_location" {
  type        = string
  description = "Firestore location: a multi-region such as eur3 or nam5, or a region such as europe-west1. Fixed once the database exists."
  default     = "eur3"
}

variable "database_id" {
  type        = string
  description = "Firestore database id holding the counters; \"(default)\" for the project's default database. Changing it points Terraform at another database: see docs/deploy.md (Rollback) before changing it on a deployment."
  default     = "tally"
}

variable "image" {
  type        = string
  description = "tallyd image to run, e.g. europe-west1-docker.pkg.dev/PROJECT/tally/tallyd@sha256:..."
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm (billed while idle). 0 lets the service scale to zero."
  default     = 0
}

variable "max_instances" {
  type        = number
  description = "Most instances Cloud Run may start."
  default     = 10
}

variable "token_secret_id" {
  type        = string
  description = "Secret Manager secret holding tally's token policy file; null to rely on Cloud Run IAM alone."
  default     = null
}

variable "invoker_members" {
  type        = list(string)
  description = "Principals allowed to call tally (roles/run.invoker), e.g. [\"user:you@example.com\"]. Never allUsers."
  default     = []
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels for the alerts, as projects/PROJECT/notificationChannels/ID."
  default     = []
}

variable "enable_managed_prometheus" {
  type        = bool
  description = "Scrape tallyd's own metrics into Cloud Monitoring with the Managed Service for Prometheus sidecar (enables the gRPC error and shed-call alerts and tallyd's charts)."
  default     = false
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database and the service from deletion. Set false only for a throwaway deployment."
  default     = true
}
