# Inputs of the tally module. Every variable is typed, described and, where its valid values can
# be told from the value alone, validated, so that a mistake fails at plan time rather than as a
# revision that does not start.

variable "project_id" {
  type        = string
  description = "Google Cloud project that holds the Firestore database, the Cloud Run service and everything else this module creates."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6 to 30 lowercase letters, digits and hyphens, starting with a letter), not a project name or number."
  }
}

variable "region" {
  type        = string
  description = "Region of the Cloud Run service and the Artifact Registry repository, e.g. europe-west1."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1."
  }
}

variable "name" {
  type        = string
  description = "Name of the Cloud Run service; also the prefix of the service account (NAME-run), the alert policies and the dashboard."
  default     = "tally"

  validation {
    # 2 to 24 characters keeps the service account id NAME-run within its 6 to 30.
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 24 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "enable_apis" {
  type        = bool
  description = "Enable the APIs the deployment uses (Cloud Run, Firestore, Artifact Registry, Secret Manager, Monitoring, IAM). They stay enabled on destroy."
  default     = true
}

# --- Firestore ---------------------------------------------------------------------------------

variable "database_id" {
  type        = string
  description = "Firestore database id. A named database (the default, \"tally\") keeps tally's collections apart from anything else in the project; \"(default)\" uses the project's default database."
  default     = "tally"

  validation {
    condition     = var.database_id == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.database_id))
    error_message = "database_id must be \"(default)\" or 4 to 63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "database_location" {
  type        = string
  description = "Firestore location: a multi-region (nam5, eur3) for the highest availability, or a region (e.g. europe-west1), cheaper and closest to a Cloud Run service in the same region. Cannot be changed after creation."

  validation {
    condition     = can(regex("^(nam5|nam7|eur3|[a-z]+-[a-z]+[0-9]+)$", var.database_location))
    error_message = "database_location must be a Firestore multi-region (nam5, nam7, eur3) or a region such as europe-west1."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the Firestore database (delete protection on; terraform destroy abandons it rather than deleting it) and the Cloud Run service (Terraform refuses to destroy it). Turn off only to tear a test deployment down."
  default     = true
}

variable "backup_recurrence" {
  type        = string
  description = "How often Firestore backs the database up: \"daily\" or \"weekly\" (on Sundays), or \"none\" for no backup schedule (point-in-time recovery still keeps 7 days)."
  default     = "daily"

  validation {
    condition     = contains(["daily", "weekly", "none"], var.backup_recurrence)
    error_message = "backup_recurrence must be daily, weekly or none."
  }
}

variable "backup_retention_days" {
  type        = number
  description = "How long each backup is kept, in days: at most 7 for daily backups, at most 98 (14 weeks) for weekly ones. Backups are billed by stored size."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 98 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number of days from 1 to 98."
  }
}

variable "key_retention" {
  type        = string
  description = "How long idempotency keys are remembered (tallyd --key-retention), a Go duration such as 24h, at least 1m. A retried keyed increment counts once within it. Records are deleted by Firestore's TTL policy, usually within a day after they expire, and are billed as stored documents until then."
  default     = "24h"

  validation {
    # What tallyd accepts: a Go duration (time.ParseDuration, without a sign) of at least 1m and
    # at most Go's largest, 2^63 ns (about 2562047h). The for over one element names the sum of
    # the parts in seconds; try() because sum() of no parts is an error, not false.
    condition = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$", var.key_retention)) && try(alltrue([
      for seconds in [sum([
        for part in regexall("([0-9]+(?:\\.[0-9]+)?)(ns|us|µs|μs|ms|s|m|h)", var.key_retention) :
        tonumber(part[0]) * { ns = 1e-9, us = 1e-6, "µs" = 1e-6, "μs" = 1e-6, ms = 1e-3, s = 1, m = 60, h = 3600 }[part[1]]
      ])] : seconds >= 60 && seconds <= 9223372036
    ]), false)
    error_message = "key_retention must be a Go duration such as 24h, 90m or 168h, at least 1m (tallyd refuses less) and at most 2562047h."
  }
}

variable "default_shards" {
  type        = number
  description = "Shard count of counters created implicitly by their first increment (tallyd --default-shards). More shards take more writes per second on one counter; a read sums them all."
  default     = 16

  validation {
    condition     = var.default_shards >= 1 && var.default_shards <= 1000 && floor(var.default_shards) == var.default_shards
    error_message = "default_shards must be a whole number from 1 to 1000."
  }
}

# --- Cloud Run -----------------------------------------------------------------------------------

variable "image" {
  type        = string
  description = "tallyd container image, e.g. europe-west1-docker.pkg.dev/PROJECT/tally/tallyd@sha256:... A digest pins exactly what runs; a tag is resolved once per deployment."

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^\\s@:]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$", var.image)) && (strcontains(var.image, "@sha256:") || can(regex(":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image)))
    error_message = "image must be a full image reference with a registry host and a tag or an @sha256: digest, e.g. europe-west1-docker.pkg.dev/my-project/tally/tallyd@sha256:<64 hex digits>."
  }
}

variable "min_instances" {
  type        = number
  description = "Instances kept running when idle. 0 costs nothing when idle but the first call after a quiet spell waits for a cold start; 1 or more are billed all the time."
  default     = 0

  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 100 && floor(var.min_instances) == var.min_instances
    error_message = "min_instances must be a whole number from 0 to 100."
  }
}

variable "max_instances" {
  type        = number
  description = "Most instances Cloud Run starts. Bounds the cost and the concurrent Firestore load; calls beyond max_instances * concurrency wait in Cloud Run's queue and then fail with 429."
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances must be a whole number from 1 to 1000."
  }
}

variable "concurrency" {
  type        = number
  description = "Most calls one instance serves at once (Cloud Run's max_instance_request_concurrency). tallyd coalesces concurrent increments of one counter into one commit, so a high value is efficient; keep it below tallyd's --max-concurrent-calls (1024) so that Cloud Run queues and scales out before tallyd sheds."
  default     = 250

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be a whole number from 1 to 1000."
  }
}

variable "cpu" {
  type        = string
  description = "CPU limit of an instance, in Cloud Run's notation: \"1\", \"2\", \"4\", \"6\", \"8\" or a fraction in millicpu below 1 (\"500m\"; then concurrency must be 1)."
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu) || can(regex("^[1-9][0-9]{0,2}m$", var.cpu))
    error_message = "cpu must be 1, 2, 4, 6 or 8, or millicpu below 1000 such as 500m."
  }
}

variable "memory" {
  type        = string
  description = "Memory limit of an instance, e.g. 512Mi or 1Gi. tallyd's heap is small (tens of MB) plus the coalescer's queues; 512Mi leaves room for bursts."
  default     = "512Mi"

  validation {
    condition     = can(regex("^[1-9][0-9]*(Mi|Gi)$", var.memory))
    error_message = "memory must be a whole number of Mi or Gi, e.g. 512Mi or 2Gi."
  }
}

variable "cpu_idle" {
  type        = bool
  description = "Request-based billing: CPU is allocated only while calls are being served (cheaper at low traffic). false is instance-based billing: CPU all the time, which tallyd's background work (Firestore health probes, metric scrapes by the Prometheus sidecar, trace export) needs to run between calls."
  default     = true
}

variable "request_timeout" {
  type        = string
  description = "Cloud Run's limit on one call, in seconds with an s suffix. tallyd gives calls without a deadline 30s (--default-deadline); a health Watch stream is cut at this limit and must reconnect."
  default     = "60s"

  validation {
    condition     = can(regex("^[1-9][0-9]*s$", var.request_timeout)) && tonumber(trimsuffix(var.request_timeout, "s")) <= 3600
    error_message = "request_timeout must be whole seconds with an s suffix, at most 3600s."
  }
}

variable "ingress" {
  type        = string
  description = "Where calls may come from: INGRESS_TRAFFIC_ALL (the internet, still subject to IAM), INGRESS_TRAFFIC_INTERNAL_ONLY (the project's VPC networks) or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "log_level" {
  type        = string
  description = "tallyd's log level (--log-level): debug, info, warn or error. Logs go to Cloud Logging as JSON lines."
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "otlp_endpoint" {
  type        = string
  description = "OTLP endpoint tallyd exports traces to (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. an OpenTelemetry Collector; null exports no traces (W3C trace ids still reach the logs)."
  default     = null

  validation {
    condition     = var.otlp_endpoint == null || can(regex("^https?://[^\\s]+$", var.otlp_endpoint))
    error_message = "otlp_endpoint must be an http:// or https:// URL."
  }
}

variable "extra_env" {
  type        = map(string)
  description = "More environment variables for tallyd, e.g. { TALLY_MAX_CONCURRENT_CALLS = \"2048\", OTEL_TRACES_SAMPLER_ARG = \"0.01\" }. Every tallyd flag --foo-bar is TALLY_FOO_BAR. May not set what Cloud Run sets (PORT, K_*), what the module sets itself (use its variables for those), nor what would take tallyd off Cloud Run's port, project, storage or plaintext HTTP/2: TALLY_ADDR, TALLY_PROJECT, TALLY_DATA_DIR, FIRESTORE_EMULATOR_HOST, TALLY_TLS_CERT, TALLY_TLS_KEY, TALLY_CLIENT_CA."
  default     = {}

  validation {
    condition = alltrue([for k in keys(var.extra_env) : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && k != "PORT" && !startswith(k, "K_") && !contains([
      # Set by the module (service.tf; terraform/validate_test.go checks that none is missing).
      "TALLY_STORAGE", "GOOGLE_CLOUD_PROJECT", "TALLY_DATABASE", "TALLY_KEY_RETENTION", "TALLY_DEFAULT_SHARDS",
      "TALLY_SHUTDOWN_TIMEOUT", "TALLY_ADMIN_ADDR", "TALLY_LOG_JSON", "TALLY_LOG_LEVEL", "TALLY_TOKENS_FILE",
      "TALLY_INSECURE", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT",
      # TALLY_ADDR beats $PORT, where Cloud Run sends calls and probes; TALLY_PROJECT beats
      # GOOGLE_CLOUD_PROJECT; FIRESTORE_EMULATOR_HOST makes tallyd refuse to start with Firestore
      # storage; TLS on the container breaks Cloud Run's h2c; a data directory is for embedded
      # storage only.
      "TALLY_ADDR", "TALLY_PROJECT", "FIRESTORE_EMULATOR_HOST", "TALLY_DATA_DIR",
      "TALLY_TLS_CERT", "TALLY_TLS_KEY", "TALLY_CLIENT_CA",
    ], k)])
    error_message = "extra_env keys must be upper-case environment variable names other than PORT, K_*, the variables the module sets itself (use the module's own variables for those), TALLY_ADDR, TALLY_PROJECT, TALLY_DATA_DIR, FIRESTORE_EMULATOR_HOST, TALLY_TLS_CERT, TALLY_TLS_KEY and TALLY_CLIENT_CA."
  }
}

# --- Access --------------------------------------------------------------------------------------

variable "token_secret_id" {
  type        = string
  description = "Secret Manager secret holding tally's token policy file (JSON with the SHA-256 of each token, its counter prefixes and permissions), as a secret id in this project or projects/P/secrets/S. Its latest version is mounted and tallyd is started with --tokens-file. null: no tally tokens; tallyd runs with --insecure and Cloud Run's IAM invoker check is the only access control."
  default     = null

  validation {
    condition     = var.token_secret_id == null || can(regex("^(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/secrets/)?[A-Za-z0-9_-]{1,255}$", var.token_secret_id))
    error_message = "token_secret_id must be a Secret Manager secret id (letters, digits, - and _) or projects/PROJECT/secrets/ID."
  }
}

variable "invoker_members" {
  type        = list(string)
  description = "Principals allowed to call the service (roles/run.invoker), e.g. [\"serviceAccount:web@my-project.iam.gserviceaccount.com\", \"group:counters@example.com\"]. Empty: nobody but project owners can call it. The service is never public: allUsers and allAuthenticatedUsers are refused."
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):[^\\s]+$", m))])
    error_message = "each invoker member must be an IAM principal such as user:a@example.com, serviceAccount:x@p.iam.gserviceaccount.com, group:g@example.com or domain:example.com."
  }

  validation {
    condition     = length(setintersection(toset(var.invoker_members), toset(["allUsers", "allAuthenticatedUsers"]))) == 0
    error_message = "tally must not be public: remove allUsers and allAuthenticatedUsers from invoker_members."
  }
}

variable "restrict_iam_to_database" {
  type        = bool
  description = "Grant the service account roles/datastore.user only on tally's database (an IAM condition on the database name) rather than on every Firestore database of the project."
  default     = true
}

# --- Images --------------------------------------------------------------------------------------

variable "create_artifact_registry" {
  type        = bool
  description = "Create a Docker repository in Artifact Registry (in region) to push tallyd images to. Turn off to use a repository that exists already."
  default     = true
}

variable "artifact_registry_repository_id" {
  type        = string
  description = "Id of the Artifact Registry repository created when create_artifact_registry is on."
  default     = "tally"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.artifact_registry_repository_id))
    error_message = "artifact_registry_repository_id must be 1 to 63 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "keep_image_versions" {
  type        = number
  description = "The repository's cleanup policy keeps this many most recent image versions (and deletes untagged images older than 30 days), so that storage does not grow without bound while rollbacks stay possible."
  default     = 20

  validation {
    condition     = var.keep_image_versions >= 1 && floor(var.keep_image_versions) == var.keep_image_versions
    error_message = "keep_image_versions must be a whole number of at least 1."
  }
}

# --- Monitoring ----------------------------------------------------------------------------------

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels the alert policies notify, as projects/PROJECT/notificationChannels/ID. Empty: the policies still open incidents, visible in the console, but tell nobody."
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "each notification channel must be projects/PROJECT/notificationChannels/ID."
  }
}

variable "enable_managed_prometheus" {
  type        = bool
  description = "Run Google's Managed Service for Prometheus sidecar next to tallyd, which scrapes tallyd's /metrics and writes them to Cloud Monitoring. Needed for the alerts and charts on tallyd's own metrics (gRPC status codes, shed calls, commit latency, latency without streams): without it nothing alerts on calls tallyd sheds or fails, since a gRPC error such as RESOURCE_EXHAUSTED or UNAVAILABLE is an HTTP 200 to Cloud Run. Adds roles/monitoring.metricWriter to the service account and the sidecar's CPU and memory to each instance; works best with cpu_idle = false."
  default     = false
}

variable "prometheus_sidecar_image" {
  type        = string
  description = "Image of the Managed Service for Prometheus sidecar for Cloud Run, used when enable_managed_prometheus is on."
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"

  validation {
    condition     = can(regex("^[a-z0-9.-]+/[^\\s]+$", var.prometheus_sidecar_image))
    error_message = "prometheus_sidecar_image must be a full image reference."
  }
}

variable "alert_error_ratio" {
  type        = number
  description = "Alert when more than this fraction of calls fail for 5 minutes (HTTP 5xx at Cloud Run; with managed Prometheus also gRPC codes UNAVAILABLE, INTERNAL, UNKNOWN, DEADLINE_EXCEEDED and DATA_LOSS from tallyd)."
  default     = 0.05

  validation {
    condition     = var.alert_error_ratio > 0 && var.alert_error_ratio < 1
    error_message = "alert_error_ratio must be a fraction between 0 and 1."
  }
}

variable "alert_latency_p99_ms" {
  type        = number
  description = "Alert when the 99th percentile of call latency stays above this many milliseconds for 5 minutes. An increment waits for its Firestore commit, typically tens of milliseconds. With enable_managed_prometheus, unary calls only, from tallyd's own histogram; without it, as Cloud Run sees requests, where a WatchCounter or health Watch stream counts with its whole length (up to request_timeout), so clients that watch keep the alert firing."
  default     = 1000

  validation {
    condition     = var.alert_latency_p99_ms > 0
    error_message = "alert_latency_p99_ms must be positive."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the resources that take them (Cloud Run service, Artifact Registry repository)."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "label keys must be lowercase letters, digits, _ and - starting with a letter; values the same without the first-letter rule; both at most 63 characters."
  }
}
