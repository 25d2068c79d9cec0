# A complete tally deployment in one project: Firestore, Cloud Run, IAM, monitoring and an image
# repository, from the module in ../../modules/tally. docs/deploy.md walks through it.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }

  # Keep the state somewhere shared and versioned for anything but a trial, e.g.:
  # backend "gcs" {
  #   bucket = "my-project-terraform-state"
  #   prefix = "tally"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "tally" {
  source = "../../modules/tally"

  project_id        = var.project_id
  region            = var.region
  database_location = var.database_location
  database_id       = var.database_id
  image             = var.image

  min_instances   = var.min_instances
  max_instances   = var.max_instances
  token_secret_id = var.token_secret_id
  invoker_members = var.invoker_members

  notification_channels     = var.notification_channels
  enable_managed_prometheus = var.enable_managed_prometheus
  deletion_protection       = var.deletion_protection
}
