package telemetry_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/tally-dev/tally/internal/promql"
)

// dashboardPath is the Grafana dashboard, from this package's directory.
var dashboardPath = filepath.Join("..", "..", "docs", "dashboards", "tally.json")

// Labels a query may use that the scrape cannot show: Prometheus adds job and instance, and le
// is the bucket bound of every histogram.
var scrapeTimeLabels = []string{"job", "instance", "le"}

// family maps a metric name of a query to the family the scrape exports it in: a histogram's
// _bucket, _sum and _count series belong to the histogram.
func family(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if f, ok := fams[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := fams[base]; ok && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return f, true
			}
		}
	}
	return nil, false
}

// TestDashboardQueriesExportedMetrics: every metric the dashboard queries is a family tallyd
// exports (scraped after traffic that records something in every instrument of the sharding
// core), every label its queries match or group by is a label of those families, and every
// tally and RPC family exported has a panel. The Go runtime's, the process's and target_info
// need none.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardPath, err)
	}
	checkDatasources(t, d)
	fams := trafficScrape(t)

	queried := map[string]bool{}
	queries := promql.GrafanaQueries(d, "")
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for _, q := range queries {
		names, used := promql.Names(q.Text)
		if len(names) == 0 {
			if !strings.Contains(q.Where, "templating") {
				t.Errorf("%s: %q queries no tally metric", q.Where, q.Text)
			}
			continue
		}
		labels := map[string]bool{}
		for _, name := range names {
			f, ok := family(fams, name)
			if !ok {
				t.Errorf("%s: %q queries %s, which tallyd does not export", q.Where, q.Text, name)
				continue
			}
			queried[f.GetName()] = true
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = true
				}
			}
		}
		for _, l := range used {
			if !labels[l] && !slices.Contains(scrapeTimeLabels, l) {
				t.Errorf("%s: %q uses label %s, which none of %v has", q.Where, q.Text, l, names)
			}
		}
	}
	var missing []string
	for name := range fams {
		if (strings.HasPrefix(name, "tally_") || strings.HasPrefix(name, "rpc_")) && !queried[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("tallyd exports %v, which no panel shows", missing)
	}
}

// checkDatasources: the dashboard takes its Prometheus data source from a variable, and every
// panel and query uses it, so that it imports into any Grafana.
func checkDatasources(t *testing.T, d map[string]any) {
	t.Helper()
	var vars []any
	if tm, ok := d["templating"].(map[string]any); ok {
		vars, _ = tm["list"].([]any)
	}
	found := false
	for _, v := range vars {
		if m, ok := v.(map[string]any); ok && m["type"] == "datasource" && m["query"] == "prometheus" && m["name"] == "datasource" {
			found = true
		}
	}
	if !found {
		t.Fatal("the dashboard has no Prometheus data source variable named datasource")
	}
	panels, _ := d["panels"].([]any)
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for i, p := range panels {
		pm, _ := p.(map[string]any)
		if pm["type"] == "row" {
			continue
		}
		targets, _ := pm["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %d (%v) has no targets", i, pm["title"])
		}
		for _, x := range append([]any{pm}, targets...) {
			ds, _ := x.(map[string]any)["datasource"].(map[string]any)
			if ds["uid"] != "${datasource}" {
				t.Errorf("panel %d (%v) uses data source %v, not the variable", i, pm["title"], ds)
			}
		}
	}
}
