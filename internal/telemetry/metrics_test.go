package telemetry_test

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// series returns the series of family name whose labels include every pair of want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if have[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// sum adds up the values (counters, gauges) or sample counts (histograms) of the series of family
// name with the labels of want.
func sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var total float64
	for _, m := range series(fams, name, want) {
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// TestScrapedMetrics: after known traffic, /metrics (scraped over HTTP, parsed with the Prometheus
// text parser) holds every tally metric with the values the traffic makes, and the RPC metrics of
// the API server and of the Firestore client.
func TestScrapedMetrics(t *testing.T) {
	t.Parallel()
	fams := trafficScrape(t)
	const increment = "tally.v1.CounterService/Increment"
	for _, tt := range []struct {
		family  string
		labels  map[string]string
		want    float64
		atLeast bool // want is a lower bound
	}{
		{"tally_increments_total", nil, trafficIncrements, false},
		{"tally_duplicates_total", nil, trafficDuplicates, false},
		// Batches: the held increment, the two behind it, each keyed call, the adaptive counter's.
		{"tally_batch_size", nil, 5, false},
		{"tally_commit_outcomes_total", map[string]string{"outcome": "applied"}, 4, false},
		// The repeated key's commit: its record existed, so it applied nothing.
		{"tally_commit_outcomes_total", map[string]string{"outcome": "conflict"}, 1, false},
		{"tally_commit_duration_seconds", map[string]string{"outcome": "applied"}, 4, false},
		{"tally_reads_total", map[string]string{"operation": "get"}, 2, false},
		{"tally_reads_total", map[string]string{"operation": "list"}, 1, false},
		{"tally_read_duration_seconds", map[string]string{"operation": "get"}, 2, false},
		{"tally_queue_depth", nil, 0, false},
		{"tally_calls_shed_total", map[string]string{"reason": "queue_full"}, 1, false},
		{"tally_calls_shed_total", map[string]string{"reason": "concurrency_limit"}, 1, false},
		{"tally_shard_resizes_total", map[string]string{"direction": "shrink", "reason": "cooled"}, trafficResizes, false},
		{"tally_shard_resizes_total", nil, trafficResizes, false},
		{"rpc_server_call_duration_seconds", map[string]string{"rpc_method": increment, "rpc_response_status_code": "OK"}, 6, false},
		{"rpc_server_call_duration_seconds", map[string]string{"rpc_method": "tally.v1.CounterService/CreateCounter", "rpc_response_status_code": "OK"}, 1, false},
		{"rpc_server_call_duration_seconds", map[string]string{"rpc_method": increment, "rpc_response_status_code": "RESOURCE_EXHAUSTED"}, 1, false},
		{"rpc_server_call_duration_seconds", map[string]string{"rpc_method": "tally.v1.CounterService/GetCounter", "rpc_response_status_code": "NOT_FOUND"}, 1, false},
		{"rpc_client_call_duration_seconds", map[string]string{"rpc_method": "google.firestore.v1.Firestore/Commit", "rpc_response_status_code": "OK"}, 4, true},
		{"target_info", map[string]string{"service_name": "tallyd"}, 1, false},
	} {
		t.Run(tt.family, func(t *testing.T) {
			if fams[tt.family] == nil {
				t.Fatalf("no family %s in the scrape", tt.family)
			}
			got := sum(fams, tt.family, tt.labels)
			if got != tt.want && !(tt.atLeast && got > tt.want) {
				t.Errorf("%s%v = %v, want %v", tt.family, tt.labels, got, tt.want)
			}
		})
	}

	// The batch-size histogram saw the coalesced batch: of 5 batches carrying 6 increments, one
	// is above the bucket of 1.
	h := series(fams, "tally_batch_size", nil)
	if len(h) != 1 {
		t.Fatalf("%d tally_batch_size series, want 1", len(h))
	}
	var single uint64
	for _, b := range h[0].GetHistogram().GetBucket() {
		if b.GetUpperBound() == 1 {
			single = b.GetCumulativeCount()
		}
	}
	if hist := h[0].GetHistogram(); hist.GetSampleSum() != 6 || hist.GetSampleCount()-single != 1 {
		t.Errorf("tally_batch_size: sum %v, %d of %d batches above 1; want sum 6 and one coalesced batch",
			hist.GetSampleSum(), hist.GetSampleCount()-single, hist.GetSampleCount())
	}
}
