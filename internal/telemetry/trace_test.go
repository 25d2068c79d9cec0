package telemetry_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

const (
	incrementMethod = "tally.v1.CounterService/Increment"
	commitMethod    = "google.firestore.v1.Firestore/Commit"
	batchSpan       = "tally.commit_batch"
)

// spansNamed returns the ended spans called name.
func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// linksTo reports whether s links to the span sc.
func linksTo(s sdktrace.ReadOnlySpan, sc trace.SpanContext) bool {
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == sc.TraceID() && l.SpanContext.SpanID() == sc.SpanID() {
			return true
		}
	}
	return false
}

// TestIncrementTrace: one Increment, from a client that traces its calls too, is one trace: the
// client's span, the server's span as its child (W3C trace context crossed the wire), the batch
// span as the server span's child and linked to it, and the Firestore Commit as the batch span's
// child, made by the client stats handler on the Firestore connection.
func TestIncrementTrace(t *testing.T) {
	t.Parallel()
	st := newStack(t, shard.Options{DefaultShards: 4})
	// The caller's own tracing: a provider of its own, with the same propagator.
	callerSpans := tracetest.NewSpanRecorder()
	callerTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(callerSpans))
	t.Cleanup(func() { _ = callerTP.Shutdown(context.Background()) })
	conn := dial(t, st.addr, grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(callerTP), otelgrpc.WithPropagators(st.tel.Propagator()))))
	if _, err := tallyv1.NewCounterServiceClient(conn).Increment(context.Background(),
		&tallyv1.IncrementRequest{Name: "counters/c", Delta: 3, IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	st.stop()

	callers := spansNamed(callerSpans, incrementMethod)
	servers := spansNamed(st.spans, incrementMethod)
	batches := spansNamed(st.spans, batchSpan)
	if len(callers) != 1 || len(servers) != 1 || len(batches) != 1 {
		t.Fatalf("%d caller, %d server and %d batch spans, want one each", len(callers), len(servers), len(batches))
	}
	caller, server, batch := callers[0], servers[0], batches[0]
	if server.SpanKind() != trace.SpanKindServer || server.Parent().SpanID() != caller.SpanContext().SpanID() ||
		server.SpanContext().TraceID() != caller.SpanContext().TraceID() {
		t.Errorf("server span %v (kind %v, parent %v) is not the caller's span %v's child",
			server.SpanContext(), server.SpanKind(), server.Parent(), caller.SpanContext())
	}
	if !linksTo(batch, server.SpanContext()) {
		t.Errorf("batch span links %v, not the server span %v", batch.Links(), server.SpanContext())
	}
	if batch.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("batch span's parent is %v, want the server span %v", batch.Parent(), server.SpanContext())
	}
	for k, want := range map[string]any{
		"tally.batch.size": int64(1), "tally.batch.keyed": int64(1), "tally.commit.outcome": "applied", "tally.commit.attempts": int64(1),
	} {
		if v, ok := attr(batch.Attributes(), k); !ok || v.AsInterface() != want {
			t.Errorf("batch span attribute %s = %v, want %v", k, v.AsInterface(), want)
		}
	}
	if v, ok := attr(batch.Attributes(), "tally.shards"); !ok || len(v.AsInt64Slice()) != 1 || v.AsInt64Slice()[0] >= 4 {
		t.Errorf("batch span attribute tally.shards = %v, want the one shard of 4 the increment went to", v.AsInterface())
	}

	// The batch's Firestore calls: loading the counter (a read-only transaction, which commits
	// too) and the commit of the increment. Every Firestore call of the trace is the batch's.
	commits := 0
	for _, s := range st.spans.Ended() {
		if s.SpanContext().TraceID() != server.SpanContext().TraceID() || !strings.HasPrefix(s.Name(), "google.firestore.v1.Firestore/") {
			continue
		}
		if s.Parent().SpanID() != batch.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("Firestore span %s (kind %v) has parent %v, want a client span child of the batch span %v", s.Name(), s.SpanKind(), s.Parent(), batch.SpanContext())
		}
		if s.Name() == commitMethod {
			commits++
		}
	}
	if commits == 0 {
		t.Fatalf("no Firestore Commit span in the batch's trace; spans: %v", names(st.spans))
	}
}

// TestCoalescedBatchTrace: calls that queue behind a held commit go out as one batch, whose span
// links every one of their server spans and records their number; each server span links to it.
func TestCoalescedBatchTrace(t *testing.T) {
	t.Parallel()
	st := newStack(t, shard.Options{DefaultShards: 2})
	release := make(chan struct{})
	prior := st.holdLane(t, release, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1})
	const queued = 3
	var answers []chan error
	for i := range queued {
		key := ""
		if i == 0 {
			key = "k"
		}
		answers = append(answers, st.send(&tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1, IdempotencyKey: key}))
	}
	st.waitQueued(t, queued)
	close(release)
	for _, ch := range append(answers, prior) {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	st.stop()

	servers := spansNamed(st.spans, incrementMethod)
	if len(servers) != queued+1 {
		t.Fatalf("%d server spans, want %d", len(servers), queued+1)
	}
	var big sdktrace.ReadOnlySpan
	for _, b := range spansNamed(st.spans, batchSpan) {
		if v, _ := attr(b.Attributes(), "tally.batch.size"); v.AsInt64() == queued {
			big = b
		}
	}
	if big == nil {
		t.Fatalf("no batch span of size %d among %v", queued, names(st.spans))
	}
	if v, _ := attr(big.Attributes(), "tally.batch.keyed"); v.AsInt64() != 1 {
		t.Errorf("tally.batch.keyed = %v, want 1", v.AsInterface())
	}
	linked := 0
	for _, s := range servers {
		if linksTo(big, s.SpanContext()) {
			linked++
		}
	}
	if linked != queued || len(big.Links()) != queued {
		t.Errorf("the batch of %d links %d spans, %d of them server spans; want each of its callers'", queued, len(big.Links()), linked)
	}
	// And each caller's server span links back to the batch (past the link limit a batch cannot
	// link every caller; every caller can link its batch).
	back := 0
	for _, s := range servers {
		if linksTo(s, big.SpanContext()) {
			back++
		}
	}
	if back != queued {
		t.Errorf("%d server spans link to the batch of %d, want each of its callers'", back, queued)
	}
}

func names(rec *tracetest.SpanRecorder) []string {
	var out []string
	for _, s := range rec.Ended() {
		out = append(out, s.Name())
	}
	return out
}
