terraform {
  # 1.5 for check blocks and the lifecycle preconditions used below.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The attributes used here (Cloud Run v2 gRPC probes, Firestore backup schedules and TTL
      # fields, database delete protection) are all present from 6.x on.
      version = ">= 6.0"
    }
  }
}
