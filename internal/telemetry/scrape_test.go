package telemetry_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Traffic of trafficScrape, which the tests check the metrics against.
const (
	trafficIncrements = 5 // applied Increments: the held one, the queued batch of 2, a keyed one, the adaptive counter's
	trafficDuplicates = 1 // a keyed Increment repeated
	trafficQueued     = 2 // the batch behind the held commit
	trafficResizes    = 1 // the adaptive counter shrinks from 2 shards to 1, its least, once
)

// adaptiveChanged is the message the sharding core logs for each adaptive resize.
const adaptiveChanged = "adaptive shard count changed"

// trafficScrape serves some of every kind of traffic through a stack, scrapes its /metrics over
// HTTP and parses the answer with the Prometheus text parser. It fails the test unless the
// traffic recorded something in every instrument the sharding core makes, so that the tests
// that compare the scrape with the dashboard and the docs see every tally metric, not only those
// that the traffic happened to produce.
func trafficScrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resized := newLineLogged(adaptiveChanged)
	st := newStack(t, shard.Options{
		DefaultShards: 2,
		// A queue of 2: the third call behind a held commit is shed.
		MaxQueue: trafficQueued,
		// An adaptive counter is judged every 20ms and shrinks in its second window, once a
		// cooldown of 1ns has passed since the first saw its shard count.
		AdaptiveWindow:   20 * time.Millisecond,
		AdaptiveCooldown: time.Nanosecond,
		Logger:           slog.New(resized),
	})
	ctx := context.Background()
	release := make(chan struct{})
	prior := st.holdLane(t, release, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1})
	var queued []chan error
	for range trafficQueued {
		queued = append(queued, st.send(&tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1}))
	}
	st.waitQueued(t, trafficQueued)
	if _, err := st.api.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("increment beyond a full queue: %v, want RESOURCE_EXHAUSTED", err)
	}
	close(release)
	for _, ch := range append(queued, prior) {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	st.tel.Shed(ctx) // as the server's concurrency limit does

	for i, want := range []bool{false, true} {
		r, err := st.api.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/keyed", Delta: 2, IdempotencyKey: "k"})
		if err != nil || r.GetDuplicate() != want {
			t.Fatalf("keyed increment %d: %v, %v; want duplicate %v", i, r, err, want)
		}
	}
	if _, err := st.api.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/hot"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.api.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/missing"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get of a missing counter: %v, want NOT_FOUND", err)
	}
	if _, err := st.api.ListCounters(ctx, &tallyv1.ListCountersRequest{}); err != nil {
		t.Fatal(err)
	}

	// An adaptive resize. The increment loads the counter, which starts its evaluation.
	adaptive := &tallyv1.Counter{ShardCount: 2, AdaptiveShards: true}
	if _, err := st.api.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "adaptive", Counter: adaptive}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.api.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/adaptive", Delta: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resized.seen: // logged after it is counted
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q within 30s of windows of 20ms", adaptiveChanged)
	}

	st.stopServer() // the last call's RPC metrics are recorded after its answer is sent
	rm := st.collect(t)
	for _, name := range shardInstruments(t, st.client) {
		if _, ok := metricNamed(rm, name); !ok {
			t.Fatalf("the traffic recorded nothing in %s: add traffic that does, or the tests comparing the scrape with the dashboard and docs/operations.md miss it", name)
		}
	}
	return scrape(t, st)
}

// scrape GETs /metrics from the stack's metrics handler over HTTP and parses it.
func scrape(t *testing.T, st *stack) map[string]*dto.MetricFamily {
	t.Helper()
	return scrapeHandler(t, st.tel.MetricsHandler())
}

// scrapeHandler GETs /metrics from h over HTTP and parses it.
func scrapeHandler(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("GET /metrics answered %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}
