package promql

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr            string
		metrics, labels []string
	}{
		{`sum(rate(tally_increments_total{job=~"$job"}[5m]))`, []string{"tally_increments_total"}, []string{"job"}},
		{`histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{namespace="tally",rpc_method!~"a|b"}[5m]))) > 1`,
			[]string{"rpc_server_call_duration_seconds_bucket"}, []string{"namespace", "rpc_method", "le", "rpc_method"}},
		// A label value that looks like a metric or a matcher is neither.
		{`sum without (instance) (tally_queue_depth{reason="tally_x{a=\"b\"}"})`, []string{"tally_queue_depth"}, []string{"reason", "instance"}},
		{`sum(a) / sum(target_info)`, []string{"target_info"}, nil},
	}
	for _, tt := range tests {
		metrics, labels := Names(tt.expr)
		if !slices.Equal(metrics, tt.metrics) || !slices.Equal(labels, tt.labels) {
			t.Errorf("Names(%s) = %q, %q; want %q, %q", tt.expr, metrics, labels, tt.metrics, tt.labels)
		}
	}
}

func TestGrafanaQueries(t *testing.T) {
	t.Parallel()
	var d any
	if err := json.Unmarshal([]byte(`{"panels": [{"targets": [{"expr": "up"}, {"expr": "down"}]}], "templating": {"list": [{"query": "label_values(x, job)"}]}, "title": "expr"}`), &d); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range GrafanaQueries(d, "") {
		got = append(got, q.Where+"="+q.Text)
	}
	slices.Sort(got)
	want := []string{".panels[0].targets[0].expr=up", ".panels[0].targets[1].expr=down", ".templating.list[0].query=label_values(x, job)"}
	if !slices.Equal(got, want) {
		t.Errorf("GrafanaQueries = %q, want %q", got, want)
	}
}
