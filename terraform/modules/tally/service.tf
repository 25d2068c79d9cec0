# The tallyd Cloud Run service: gRPC over HTTP/2 end to end, configured only through the
# environment (every tallyd flag --foo-bar is TALLY_FOO_BAR), probed with gRPC health.

locals {
  # tallyd serves gRPC on 0.0.0.0:$PORT; Cloud Run sets PORT to this container port. The port is
  # named h2c so that Cloud Run forwards HTTP/2 cleartext to the container instead of
  # downgrading to HTTP/1.1, which gRPC cannot use.
  grpc_port = 9090

  # tallyd's admin listener (/metrics, /healthz, /readyz) stays on loopback, unreachable from
  # outside the instance. 127.0.0.1:8080 is where the Managed Service for Prometheus sidecar
  # scrapes /metrics by default, so the sidecar needs no configuration file.
  admin_addr = "127.0.0.1:8080"

  # Cloud Run sends SIGTERM and kills the instance 10 seconds later. tallyd spends up to
  # --shutdown-timeout draining queued increments, then gives the calls still open 5 seconds
  # more to send their answers, and closing its admin listener and flushing telemetry 0.5 s
  # (shutdownBudget in cmd/tallyd/shutdown.go): 4s + 5s + 0.5s stays inside the window.
  shutdown_timeout = "4s"

  tallyd_env = merge(
    {
      TALLY_STORAGE          = "firestore"
      GOOGLE_CLOUD_PROJECT   = var.project_id
      TALLY_DATABASE         = google_firestore_database.tally.name
      TALLY_KEY_RETENTION    = var.key_retention
      TALLY_DEFAULT_SHARDS   = tostring(var.default_shards)
      TALLY_SHUTDOWN_TIMEOUT = local.shutdown_timeout
      TALLY_ADMIN_ADDR       = local.admin_addr
      TALLY_LOG_JSON         = "true"
      TALLY_LOG_LEVEL        = var.log_level
      OTEL_SERVICE_NAME      = var.name
    },
    # With a token file tallyd checks every call's x-tally-token; without one it must be told
    # that listening on 0.0.0.0 without auth is intended: Cloud Run's IAM check guards it.
    local.use_tokens ? { TALLY_TOKENS_FILE = local.tokens_file } : { TALLY_INSECURE = "true" },
    var.otlp_endpoint == null ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint },
    var.extra_env,
  )
}

resource "google_cloud_run_v2_service" "tally" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  description         = "tally counter service (gRPC)"
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = var.labels

  # invoker_iam_disabled is left at false: callers need roles/run.invoker (iam.tf), and the
  # service is never open to unauthenticated calls.

  template {
    service_account                  = google_service_account.tally.email
    max_instance_request_concurrency = var.concurrency
    timeout                          = var.request_timeout
    # The second generation runs a full Linux kernel: faster CPU and network under sustained load.
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      name  = "tallyd"
      image = var.image

      ports {
        name           = "h2c"
        container_port = local.grpc_port
      }

      dynamic "env" {
        for_each = local.tallyd_env
        content {
          name  = env.key
          value = env.value
        }
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = var.cpu_idle
        startup_cpu_boost = true
      }

      # Ready once tallyd answers grpc.health.v1 SERVING on its gRPC port for the server as a
      # whole (no service name), which needs Firestore reachable. Up to 30 s for a cold start.
      startup_probe {
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 30
        grpc {
          port = local.grpc_port
        }
      }

      # Restarts an instance that stops answering gRPC health for 30 s. It asks about tallyd's
      # "liveness" service, which is SERVING whenever tallyd serves gRPC: the server as a whole
      # is NOT_SERVING while Firestore is unreachable, and restarting every instance during an
      # outage of Firestore would only drop the calls they hold. (Cloud Run takes HTTP and gRPC
      # liveness probes, not TCP ones.)
      liveness_probe {
        period_seconds    = 10
        timeout_seconds   = 5
        failure_threshold = 3
        grpc {
          port    = local.grpc_port
          service = "liveness"
        }
      }

      dynamic "volume_mounts" {
        for_each = local.use_tokens ? [1] : []
        content {
          name       = "tokens"
          mount_path = local.tokens_dir
        }
      }
    }

    # Google's Managed Service for Prometheus sidecar: scrapes tallyd's /metrics on loopback
    # (local.admin_addr) and writes the series to Cloud Monitoring. Starts after tallyd is healthy.
    dynamic "containers" {
      for_each = var.enable_managed_prometheus ? [1] : []
      content {
        name       = "prometheus"
        image      = var.prometheus_sidecar_image
        depends_on = ["tallyd"]
        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
          cpu_idle = var.cpu_idle
        }
      }
    }

    dynamic "volumes" {
      for_each = local.use_tokens ? [1] : []
      content {
        name = "tokens"
        secret {
          secret = var.token_secret_id
          items {
            # latest: Cloud Run reads the secret when the file is read, so a new revision always
            # starts with the newest version (docs/deploy.md: changing tokens).
            version = "latest"
            path    = "tokens.json"
          }
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    precondition {
      condition     = var.min_instances <= var.max_instances
      error_message = "min_instances must not exceed max_instances."
    }
    precondition {
      condition     = can(regex("m$", var.cpu)) == false || var.concurrency == 1
      error_message = "Cloud Run allows less than one CPU only with a concurrency of 1."
    }
  }

  # The service account must be able to read Firestore and the token secret before the first
  # revision starts, or its startup probe fails.
  depends_on = [
    google_project_iam_member.datastore_user,
    google_secret_manager_secret_iam_member.tokens,
    google_project_service.apis,
  ]
}

# A tag can be moved to another image; only a digest says exactly what runs. A warning at plan
# time, not an error: a tag is handy for a first deployment.
check "image_pinned_by_digest" {
  assert {
    condition     = strcontains(var.image, "@sha256:")
    error_message = "image ${var.image} is not pinned by digest: a re-deployment may run another build than the one tested. Prefer REPOSITORY/tallyd@sha256:..."
  }
}
