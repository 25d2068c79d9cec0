# Alert policies and a dashboard.
#
# Two sources of metrics:
# - Cloud Run's own request metrics (run.googleapis.com/...), always there. Cloud Run sees HTTP:
#   a gRPC call that fails with a gRPC status (UNAVAILABLE, INTERNAL, ...) is still an HTTP 200 to
#   it, so these catch what fails before or around tallyd (no instance could start, a crash, a
#   timeout, 429 when every instance is busy), not tallyd's own errors.
# - tallyd's metrics (gRPC status codes per method, shed calls, commit latency and outcomes),
#   scraped from its /metrics by the Managed Service for Prometheus sidecar: only with
#   enable_managed_prometheus, and then queried with PromQL.

locals {
  run_filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${var.name}\""
  # The sidecar labels every series it writes with namespace = the Cloud Run service's name.
  prom_selector = "namespace=\"${var.name}\""
  # gRPC codes that mean tallyd or Firestore failed, rather than the caller asking for something
  # impossible (NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION, ...).
  server_error_codes = "UNAVAILABLE|INTERNAL|UNKNOWN|DEADLINE_EXCEEDED|DATA_LOSS"
  # The streaming methods tallyd serves (rpc_method is service/method), whose calls last as long
  # as the client keeps them open: left out of latency.
  streaming_methods = "tally.v1.CounterService/WatchCounter|grpc.health.v1.Health/Watch|grpc.reflection.v1(alpha)?.ServerReflection/ServerReflectionInfo"

  alert_documentation = "tally runbook: docs/deploy.md in the tally repository (upgrades, rollback to an earlier revision)."
}

resource "google_monitoring_alert_policy" "http_errors" {
  project               = var.project_id
  display_name          = "${var.name}: HTTP error ratio at Cloud Run"
  combiner              = "OR"
  notification_channels = var.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "5xx responses above ${var.alert_error_ratio * 100}% of requests for 5 minutes"
    condition_threshold {
      filter             = "${local.run_filter} AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = "${local.run_filter} AND metric.type = \"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_error_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "Cloud Run answers HTTP 5xx for tally calls: instances failing to start or crashing, or calls timing out. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

# Latency. Cloud Run's request_latencies cannot tell a unary call from a stream: its labels are
# HTTP's (response code and class, route), not the gRPC method, and a WatchCounter or health Watch
# stream counts as one request lasting until it ends, up to request_timeout. So with clients that
# watch, its p99 is the streams' length and the alert would fire all the time. tallyd's own
# histogram names the method: with the Prometheus sidecar the alert is on it, streams left out;
# without the sidecar it is on Cloud Run's metric, which suits only deployments without watches
# (docs/deploy.md, Monitoring).
resource "google_monitoring_alert_policy" "latency" {
  count = var.enable_managed_prometheus ? 0 : 1

  project               = var.project_id
  display_name          = "${var.name}: call latency p99 at Cloud Run"
  combiner              = "OR"
  notification_channels = var.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "p99 latency above ${var.alert_latency_p99_ms} ms for 5 minutes (streams included)"
    condition_threshold {
      filter          = "${local.run_filter} AND metric.type = \"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_latency_p99_ms
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_99"
      }
    }
  }

  documentation {
    content   = "Calls to tally are slow, as Cloud Run measures them: WatchCounter and health Watch streams count with their whole length, so clients that watch keep this alert firing (turn enable_managed_prometheus on for an alert that leaves streams out). Increments wait for their Firestore commit: check Firestore's latency and tally's commit outcomes on the dashboard. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

# The address the policy had before it took count.
moved {
  from = google_monitoring_alert_policy.latency
  to   = google_monitoring_alert_policy.latency[0]
}

resource "google_monitoring_alert_policy" "grpc_latency" {
  count = var.enable_managed_prometheus ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: unary call latency p99"
  combiner              = "OR"
  notification_channels = var.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "p99 latency of unary calls above ${var.alert_latency_p99_ms} ms for 5 minutes"
    condition_prometheus_query_language {
      query    = "histogram_quantile(0.99, sum by (le) (rate(rpc_server_call_duration_seconds_bucket{${local.prom_selector},rpc_method!~\"${local.streaming_methods}\"}[5m]))) > ${var.alert_latency_p99_ms / 1000}"
      duration = "300s"
    }
  }

  documentation {
    content   = "tallyd's unary calls are slow (streams are left out). Increments wait for their Firestore commit: check Firestore's latency and tally's commit outcomes on the dashboard. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Calls Cloud Run refused because every instance was at its concurrency and no more could start
# (max_instances): load shed before reaching tallyd.
resource "google_monitoring_alert_policy" "refused" {
  project               = var.project_id
  display_name          = "${var.name}: calls refused at max instances"
  combiner              = "OR"
  notification_channels = var.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "HTTP 429 from Cloud Run for 5 minutes"
    condition_threshold {
      filter          = "${local.run_filter} AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code = \"429\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "Cloud Run refuses calls with 429: all ${var.max_instances} instances are busy. Raise max_instances or concurrency. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

# tallyd's own view, from the metrics the Prometheus sidecar scrapes.
resource "google_monitoring_alert_policy" "grpc_errors" {
  count = var.enable_managed_prometheus ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: gRPC server error ratio"
  combiner              = "OR"
  notification_channels = var.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "calls ending ${local.server_error_codes} above ${var.alert_error_ratio * 100}% for 5 minutes"
    condition_prometheus_query_language {
      query    = "sum(rate(rpc_server_call_duration_seconds_count{${local.prom_selector},rpc_response_status_code=~\"${local.server_error_codes}\"}[5m])) / sum(rate(rpc_server_call_duration_seconds_count{${local.prom_selector}}[5m])) > ${var.alert_error_ratio}"
      duration = "300s"
    }
  }

  documentation {
    content   = "tallyd answers calls with server-side gRPC errors; UNAVAILABLE usually means Firestore is unreachable or overloaded. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "shed" {
  count = var.enable_managed_prometheus ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: calls shed by tallyd"
  combiner              = "OR"
  notification_channels = var.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "tallyd refuses calls with RESOURCE_EXHAUSTED for 5 minutes"
    condition_prometheus_query_language {
      query    = "sum(rate(tally_calls_shed_total{${local.prom_selector}}[5m])) > 0"
      duration = "300s"
    }
  }

  documentation {
    content   = "tallyd sheds calls beyond --max-concurrent-calls (nothing is applied for them). Lower concurrency so that Cloud Run scales out first, or raise TALLY_MAX_CONCURRENT_CALLS through extra_env. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

locals {
  run_charts = [
    {
      title = "Requests per second by response class"
      dataSets = [{
        plotType = "STACKED_AREA"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "${local.run_filter} AND metric.type = \"run.googleapis.com/request_count\""
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.response_code_class"] }
        } }
      }]
    },
    {
      title = "Request latency p50 and p99 at Cloud Run, streams included (ms)"
      dataSets = [for p in ["50", "99"] : {
        plotType = "LINE"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "${local.run_filter} AND metric.type = \"run.googleapis.com/request_latencies\""
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_${p}" }
        } }
      }]
    },
    {
      title = "Instances"
      dataSets = [{
        plotType = "STACKED_AREA"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "${local.run_filter} AND metric.type = \"run.googleapis.com/container/instance_count\""
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.state"] }
        } }
      }]
    },
    {
      title = "Container CPU and memory utilization p99"
      dataSets = [for m in ["cpu", "memory"] : {
        plotType = "LINE"
        timeSeriesQuery = { timeSeriesFilter = {
          filter      = "${local.run_filter} AND metric.type = \"run.googleapis.com/container/${m}/utilizations\""
          aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_99" }
        } }
      }]
    },
  ]

  tallyd_charts = [
    { title = "Increments applied and duplicates per second", queries = [
      "sum(rate(tally_increments_total{${local.prom_selector}}[5m]))",
      "sum(rate(tally_duplicates_total{${local.prom_selector}}[5m]))",
    ] },
    { title = "gRPC calls per second by status code", queries = [
      "sum by (rpc_response_status_code) (rate(rpc_server_call_duration_seconds_count{${local.prom_selector}}[5m]))",
    ] },
    { title = "gRPC latency p99 by method (s); streams last as long as their clients keep them", queries = [
      "histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{${local.prom_selector}}[5m])))",
    ] },
    { title = "Firestore commit latency p50 and p99 (s)", queries = [
      "histogram_quantile(0.5, sum by (le) (rate(tally_commit_duration_seconds_bucket{${local.prom_selector}}[5m])))",
      "histogram_quantile(0.99, sum by (le) (rate(tally_commit_duration_seconds_bucket{${local.prom_selector}}[5m])))",
    ] },
    { title = "Commit outcomes per second", queries = [
      "sum by (outcome) (rate(tally_commit_outcomes_total{${local.prom_selector}}[5m]))",
    ] },
    { title = "Coalesced batch size p50 and p99", queries = [
      "histogram_quantile(0.5, sum by (le) (rate(tally_batch_size_bucket{${local.prom_selector}}[5m])))",
      "histogram_quantile(0.99, sum by (le) (rate(tally_batch_size_bucket{${local.prom_selector}}[5m])))",
    ] },
    { title = "Queued increments and shed calls per second", queries = [
      "sum(tally_queue_depth{${local.prom_selector}})",
      "sum(rate(tally_calls_shed_total{${local.prom_selector}}[5m]))",
    ] },
  ]

  charts = concat(
    [for c in local.run_charts : { title = c.title, xyChart = { dataSets = c.dataSets } }],
    var.enable_managed_prometheus ? [for c in local.tallyd_charts : {
      title   = c.title
      xyChart = { dataSets = [for q in c.queries : { plotType = "LINE", timeSeriesQuery = { prometheusQuery = q } }] }
    }] : [],
  )

  dashboard = {
    displayName = "tally (${var.name})"
    mosaicLayout = {
      columns = 48
      tiles = [for i, c in local.charts : {
        xPos   = (i % 2) * 24
        yPos   = floor(i / 2) * 16
        width  = 24
        height = 16
        widget = c
      }]
    }
  }
}

resource "google_monitoring_dashboard" "tally" {
  project        = var.project_id
  dashboard_json = jsonencode(local.dashboard)

  depends_on = [google_project_service.apis]
}
