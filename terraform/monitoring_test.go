package terraform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tally-dev/tally/internal/promql"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// grafanaDashboard is tallyd's Grafana dashboard, whose queries internal/telemetry's tests check
// against the metrics tallyd really exports (scraped after traffic of every kind).
var grafanaDashboard = filepath.Join("..", "docs", "dashboards", "tally.json")

// Labels the module's queries use that the Managed Service for Prometheus sidecar adds (so
// tallyd's own dashboard does not have them), and the histogram bucket bound.
var sidecarLabels = map[string]bool{"namespace": true, "le": true}

// moduleQueries returns every PromQL query of the module's alert policies and dashboard, with
// the Prometheus sidecar on.
func moduleQueries(t *testing.T) []string {
	t.Helper()
	cfg := loadConfigT(t, moduleDir)
	e, err := newEvaluator(cfg, map[string]string{"enable_managed_prometheus": "true"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range cfg.resourcesOf("google_monitoring_alert_policy") {
		p, err := e.plan(r.block.Body, nil)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		for _, c := range p.blocks["conditions"] {
			for _, q := range c.blocks["condition_prometheus_query_language"] {
				out = append(out, q.str("query"))
			}
		}
	}
	if err := e.local("charts"); err != nil {
		t.Fatal(err)
	}
	for it := e.locals["charts"].ElementIterator(); it.Next(); {
		_, chart := it.Element()
		for ds := chart.GetAttr("xyChart").GetAttr("dataSets").ElementIterator(); ds.Next(); {
			_, set := ds.Element()
			q := set.GetAttr("timeSeriesQuery")
			if q.Type().HasAttribute("prometheusQuery") {
				out = append(out, q.GetAttr("prometheusQuery").AsString())
			}
		}
	}
	return out
}

// TestMonitoringQueriesUseExportedMetrics: every metric the module's PromQL alerts and charts
// read is, by its exact name or as a series of the same histogram, one that tallyd's Grafana
// dashboard reads, and every label they match on or group by is one the dashboard uses with
// that metric, so that a renamed metric or label breaks a test. internal/telemetry holds the
// dashboard's queries against a scrape of tallyd after traffic of every kind; both read the
// queries with internal/promql.
func TestMonitoringQueriesUseExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(grafanaDashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	// The dashboard's metrics, by histogram or counter family, with the labels it uses on each.
	dashboard := map[string]map[string]bool{}
	for _, q := range promql.GrafanaQueries(d, "") {
		metrics, labels := promql.Names(q.Text)
		for _, m := range metrics {
			f := metricFamily(m)
			if dashboard[f] == nil {
				dashboard[f] = map[string]bool{}
			}
			for _, l := range labels {
				dashboard[f][l] = true
			}
		}
	}
	if len(dashboard) < 5 {
		t.Fatalf("found %d metrics in %s", len(dashboard), grafanaDashboard)
	}
	queries := moduleQueries(t)
	if len(queries) < 5 {
		t.Fatalf("found %d PromQL queries in the module, want the alerts' and the charts'", len(queries))
	}
	for _, q := range queries {
		metrics, labels := promql.Names(q)
		if len(metrics) == 0 {
			t.Errorf("%s reads none of tallyd's metrics", q)
		}
		for _, l := range labels {
			found := sidecarLabels[l]
			for _, m := range metrics {
				found = found || dashboard[metricFamily(m)][l]
			}
			if !found {
				t.Errorf("%s uses the label %s, which tallyd's dashboard uses with none of %q", q, l, metrics)
			}
		}
		for _, m := range metrics {
			if dashboard[metricFamily(m)] == nil {
				t.Errorf("%s reads %s, which tallyd's dashboard (%s) does not: is it exported?", q, m, grafanaDashboard)
			}
		}
	}
}

// metricFamily is the metric a series name belongs to: a histogram's _bucket, _sum and _count
// series are the histogram's.
func metricFamily(series string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(series, suffix); ok {
			return base
		}
	}
	return series
}

// TestLatencyAlertLeavesStreamsOut: with the Prometheus sidecar the latency alert is on
// tallyd's histogram, and its method filter leaves out exactly the streaming methods tallyd
// serves (read from their descriptors), so that clients that watch do not keep it firing;
// without the sidecar Cloud Run's alert, which cannot tell streams apart, stands in.
func TestLatencyAlertLeavesStreamsOut(t *testing.T) {
	cfg := loadConfigT(t, moduleDir)
	for _, prom := range []bool{false, true} {
		e, err := newEvaluator(cfg, map[string]string{"enable_managed_prometheus": strconv.FormatBool(prom)})
		if err != nil {
			t.Fatal(err)
		}
		for name, wantOn := range map[string]bool{"latency": !prom, "grpc_latency": prom} {
			var r *resourceBlock
			for _, p := range cfg.resourcesOf("google_monitoring_alert_policy") {
				if p.name == name {
					r = p
				}
			}
			if r == nil {
				t.Fatalf("no google_monitoring_alert_policy.%s", name)
			}
			n := cty.NumberIntVal(1)
			if c, ok := r.block.Body.Attributes["count"]; ok {
				if n, err = e.value(c.Expr, nil); err != nil {
					t.Fatal(err)
				}
			}
			if on := n.Equals(cty.NumberIntVal(1)).True(); on != wantOn {
				t.Errorf("with enable_managed_prometheus = %v, %s is created: %v, want %v", prom, r, on, wantOn)
			}
		}
	}

	e, err := newEvaluator(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.local("streaming_methods"); err != nil {
		t.Fatal(err)
	}
	// PromQL anchors a regular expression at both ends.
	streams := regexp.MustCompile("^(?:" + e.locals["streaming_methods"].AsString() + ")$")
	services := []protoreflect.ServiceDescriptor{
		tallyv1.File_tally_v1_counter_proto.Services().ByName("CounterService"),
		healthpb.File_grpc_health_v1_health_proto.Services().ByName("Health"),
		reflectionpb.File_grpc_reflection_v1_reflection_proto.Services().ByName("ServerReflection"),
	}
	streaming := 0
	for _, svc := range services {
		for i := 0; i < svc.Methods().Len(); i++ {
			m := svc.Methods().Get(i)
			full := string(svc.FullName()) + "/" + string(m.Name())
			isStream := m.IsStreamingServer() || m.IsStreamingClient()
			if isStream {
				streaming++
			}
			if streams.MatchString(full) != isStream {
				t.Errorf("%s (streaming: %v): the latency alert's filter leaves it out: %v", full, isStream, !isStream)
			}
		}
	}
	if streaming < 3 {
		t.Errorf("found %d streaming methods, want WatchCounter, Watch and ServerReflectionInfo", streaming)
	}
	filter := `rpc_method!~"` + e.locals["streaming_methods"].AsString() + `"`
	if !strings.Contains(strings.Join(moduleQueries(t), "\n"), filter) {
		t.Errorf("no PromQL query of the module has %s", filter)
	}
}
