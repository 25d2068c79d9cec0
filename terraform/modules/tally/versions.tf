terraform {
  # 1.5 for check blocks and the lifecycle preconditions used below.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The Go tests in terraform/ check every argument against the schema of the v8 line; the
      # ones used (Cloud Run v2 gRPC probes and deletion protection, Firestore backup schedules,
      # TTL fields and delete protection) exist since the 6.x releases.
      version = ">= 6.0"
    }
  }
}
