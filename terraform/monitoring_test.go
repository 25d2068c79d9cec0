package terraform

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// grafanaDashboard is tallyd's Grafana dashboard, whose queries internal/telemetry's tests check
// against the metrics tallyd really exports (scraped after traffic of every kind).
var grafanaDashboard = filepath.Join("..", "docs", "dashboards", "tally.json")

var (
	promMetric = regexp.MustCompile(`\b(?:tally|rpc)_[a-zA-Z0-9_]*[a-zA-Z0-9]`)
	promLabel  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	promBy     = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

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

// TestMonitoringQueriesUseExportedMetrics: every metric and label the module's PromQL alerts and
// charts use is one tallyd's own dashboard uses, so that a renamed metric breaks a test.
func TestMonitoringQueriesUseExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(grafanaDashboard)
	if err != nil {
		t.Fatal(err)
	}
	grafana := string(b)
	queries := moduleQueries(t)
	if len(queries) < 5 {
		t.Fatalf("found %d PromQL queries in the module, want the alerts' and the charts'", len(queries))
	}
	for _, q := range queries {
		for _, m := range promMetric.FindAllString(q, -1) {
			if !strings.Contains(grafana, m) {
				t.Errorf("%s queries %s, which tallyd's dashboard (%s) does not: is it exported?", q, m, grafanaDashboard)
			}
		}
		var labels []string
		for _, m := range promLabel.FindAllStringSubmatch(q, -1) {
			labels = append(labels, m[1])
		}
		for _, m := range promBy.FindAllStringSubmatch(q, -1) {
			for _, l := range strings.Split(m[1], ",") {
				labels = append(labels, strings.TrimSpace(l))
			}
		}
		for _, l := range labels {
			if !sidecarLabels[l] && !strings.Contains(grafana, l) {
				t.Errorf("%s uses the label %s, which tallyd's dashboard does not", q, l)
			}
		}
	}
}
