package shard_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/shard"
)

// observed is a store's in-memory telemetry.
type observed struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
}

// observe gives opts an SDK tracer provider and meter provider that record in memory.
func observe(t *testing.T, opts *shard.Options) *observed {
	t.Helper()
	o := &observed{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader))
	t.Cleanup(func() {
		_ = o.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	opts.TracerProvider, opts.MeterProvider = o.tp, mp
	return o
}

// sum adds up the int64 counter name's data points that have attribute key=value ("" key: all).
func (o *observed) sum(t *testing.T, name, key, value string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, ok := dp.Attributes.Value(attribute.Key(key)); key == "" || (ok && v.AsString() == value) {
					total += dp.Value
				}
			}
		}
	}
	return total
}

func (o *observed) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range o.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s sdktrace.ReadOnlySpan, k string) attribute.Value {
	for _, a := range s.Attributes() {
		if string(a.Key) == k {
			return a.Value
		}
	}
	return attribute.Value{}
}

// TestRacedCommitIsAConflictThenATransaction: another server writes the counter's only shard, so
// this store's conditional commit conflicts and the batch goes through the locked path. The
// outcomes are counted, and the batch's span says how it ended and holds the transaction's span.
func TestRacedCommitIsAConflictThenATransaction(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	opts := shard.Options{DefaultShards: 1}
	o := observe(t, &opts)
	s := storeOn(t, em, opts)
	other := storeOn(t, em, shard.Options{})
	ctx := context.Background()
	for _, st := range []*shard.Counters{s, other, s} {
		if _, err := st.Increment(ctx, "c", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil { // every batch span has ended
		t.Fatal(err)
	}
	wantValue(t, "c", 3, other)
	for outcome, want := range map[string]int64{"applied": 1, "conflict": 1, "transaction_fallback": 1} {
		if got := o.sum(t, "tally.commit.outcomes", "outcome", outcome); got != want {
			t.Errorf("tally.commit.outcomes{outcome=%s} = %d, want %d", outcome, got, want)
		}
	}
	if got := o.sum(t, "tally.increments", "", ""); got != 2 {
		t.Errorf("tally.increments = %d, want 2", got)
	}
	batches := o.ended("tally.commit_batch")
	if len(batches) != 2 {
		t.Fatalf("%d batch spans, want 2", len(batches))
	}
	raced := batches[1]
	if got := spanAttr(raced, "tally.commit.outcome").AsString(); got != "transaction_fallback" {
		t.Errorf("the raced batch's outcome is %q, want transaction_fallback", got)
	}
	if got := spanAttr(raced, "tally.commit.attempts").AsInt64(); got != 2 {
		t.Errorf("the raced batch made %d attempts, want 2", got)
	}
	if got := spanAttr(raced, "tally.shards").AsInt64Slice(); len(got) != 1 || got[0] != 0 {
		t.Errorf("the raced batch's shards: %v, want [0]", got)
	}
	locked := o.ended("tally.commit_locked")
	if len(locked) != 1 || locked[0].Parent().SpanID() != raced.SpanContext().SpanID() {
		t.Fatalf("%d locked-commit spans; want one, the raced batch's child", len(locked))
	}
}

// TestBatchIncrementSpanAndCounts: a BatchIncrement is a span in its caller's trace; its repeat
// with the same key is a duplicate.
func TestBatchIncrementSpanAndCounts(t *testing.T) {
	t.Parallel()
	opts := shard.Options{DefaultShards: 2}
	o := observe(t, &opts)
	s := newStore(t, opts)
	ctx, parent := o.tp.Tracer("test").Start(context.Background(), "caller")
	deltas := []shard.Delta{{CounterID: "a", Delta: 1}, {CounterID: "b", Delta: 2}}
	for i, want := range []bool{false, true} {
		r, err := s.BatchIncrement(ctx, deltas, "k")
		if err != nil || r.Duplicate != want {
			t.Fatalf("batch increment %d: %+v, %v; want duplicate %v", i, r, err, want)
		}
	}
	parent.End()
	if inc, dup := o.sum(t, "tally.increments", "", ""), o.sum(t, "tally.duplicates", "", ""); inc != 1 || dup != 1 {
		t.Errorf("tally.increments %d, tally.duplicates %d; want 1 and 1", inc, dup)
	}
	spans := o.ended("tally.batch_increment")
	if len(spans) != 2 {
		t.Fatalf("%d batch increment spans, want 2", len(spans))
	}
	first := spans[0]
	if first.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("the batch increment's span is not its caller's child")
	}
	if c, k, out := spanAttr(first, "tally.batch.counters").AsInt64(), spanAttr(first, "tally.keyed").AsBool(),
		spanAttr(first, "tally.commit.outcome").AsString(); c != 2 || !k || out != "applied" {
		t.Errorf("batch increment span: counters %d, keyed %v, outcome %q; want 2, true, applied", c, k, out)
	}
}

// TestEveryCallerLinksToItsBatch: a batch of more callers than a span keeps links for (the SDK's
// default limit is 128) keeps the links it can and says how many callers it had, and every
// caller's span links to the batch span, once per caller span even when one span made several
// of the calls.
func TestEveryCallerLinksToItsBatch(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	opts := shard.Options{DefaultShards: 1}
	o := observe(t, &opts)
	s, inj := injectedStore(t, em, opts)
	ctx := context.Background()
	if _, err := s.Create(ctx, "hot", 1); err != nil {
		t.Fatal(err)
	}
	// Hold a prior commit so that every caller below queues for the next batch.
	release := make(chan struct{})
	hold := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.DelayAfter, Release: release})
	prior := make(chan error, 1)
	go func() {
		_, err := s.Increment(ctx, "hot", 1, "")
		prior <- err
	}()
	<-hold.Hit()

	const callers, sharedCalls = 300, 3
	tr := o.tp.Tracer("test")
	var wg sync.WaitGroup
	increment := func(ctx context.Context) {
		if _, err := s.Increment(ctx, "hot", 1, ""); err != nil {
			t.Error(err)
		}
	}
	for range callers {
		wg.Add(1)
		go func() {
			// Deferred calls run last in, first out: the span ends before
			// wg.Wait below can return, so every caller span is recorded.
			defer wg.Done()
			ctx, span := tr.Start(ctx, "caller")
			defer span.End()
			increment(ctx)
		}()
	}
	sharedCtx, shared := tr.Start(ctx, "shared-caller")
	for range sharedCalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			increment(sharedCtx)
		}()
	}
	waitQueued(t, s, "hot", callers+sharedCalls)
	close(release)
	if err := <-prior; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	shared.End()
	if err := s.Close(ctx); err != nil { // every batch span has ended
		t.Fatal(err)
	}

	var big sdktrace.ReadOnlySpan
	for _, b := range o.ended("tally.commit_batch") {
		if spanAttr(b, "tally.batch.size").AsInt64() == callers+sharedCalls {
			big = b
		}
	}
	if big == nil {
		t.Fatalf("no batch of all %d calls", callers+sharedCalls)
	}
	if kept, dropped := len(big.Links()), big.DroppedLinks(); kept != 128 || kept+dropped != callers+sharedCalls {
		t.Errorf("the batch kept %d links and dropped %d; want 128 kept of %d", kept, dropped, callers+sharedCalls)
	}
	spans := append(o.ended("caller"), o.ended("shared-caller")...)
	if len(spans) != callers+1 {
		t.Fatalf("%d caller spans, want %d", len(spans), callers+1)
	}
	for _, sp := range spans {
		var n int
		for _, l := range sp.Links() {
			if l.SpanContext.SpanID() == big.SpanContext().SpanID() && l.SpanContext.TraceID() == big.SpanContext().TraceID() {
				n++
			}
		}
		if n != 1 || len(sp.Links()) != 1 {
			t.Errorf("caller span %s (%s) has %d links to its batch among %d links, want exactly 1", sp.SpanContext().SpanID(), sp.Name(), n, len(sp.Links()))
		}
	}
}

// TestTelemetryOfCommitsThatFail: a commit whose answer is lost and whose read-back fails too may
// or may not have applied, and one Firestore refuses as invalid certainly did not; each is
// counted in tally.commit.outcomes by that outcome, once, and its batch span ends with an error
// status naming it.
func TestTelemetryOfCommitsThatFail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		faults  []faultinject.Fault
		outcome string
		wantErr error
		value   int64 // the counter's value afterwards, read through another store
	}{
		{"answer lost, read-back fails", []faultinject.Fault{
			// INTERNAL is not retried by the client, and says nothing of whether it applied.
			{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.LoseAnswer, Code: codes.Internal},
			{Method: faultinject.BatchGetDocuments, Action: faultinject.FailBefore, Code: codes.PermissionDenied, Times: -1},
		}, "unknown", shard.ErrUnknownOutcome, 2},
		{"refused as invalid", []faultinject.Fault{
			{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.FailBefore, Code: codes.InvalidArgument},
		}, "failed", shard.ErrTooLarge, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			opts := shard.Options{DefaultShards: 1}
			o := observe(t, &opts)
			s, inj := injectedStore(t, em, opts)
			ctx := context.Background()
			// The store knows the counter and its shard: the faulted increment reads nothing
			// before its commit.
			if _, err := s.Create(ctx, "c", 1); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Increment(ctx, "c", 1, ""); err != nil {
				t.Fatal(err)
			}
			var rules []*faultinject.Rule
			for _, f := range tt.faults {
				rules = append(rules, inj.Arm(f))
			}
			if _, err := s.Increment(ctx, "c", 1, ""); !errors.Is(err, tt.wantErr) {
				t.Fatalf("the faulted increment: %v, want %v", err, tt.wantErr)
			}
			for _, r := range rules {
				if r.Fired() == 0 {
					t.Fatal("a fault never fired: the test did not exercise what it is about")
				}
				r.Disarm()
			}
			if err := s.Close(ctx); err != nil { // every batch span has ended
				t.Fatal(err)
			}
			wantValue(t, "c", tt.value, storeOn(t, em, shard.Options{}))
			for _, outcome := range []string{"applied", "unknown", "failed"} {
				want := int64(0)
				switch outcome {
				case "applied":
					want = 1 // the warming increment
				case tt.outcome:
					want = 1
				}
				if got := o.sum(t, "tally.commit.outcomes", "outcome", outcome); got != want {
					t.Errorf("tally.commit.outcomes{outcome=%s} = %d, want %d", outcome, got, want)
				}
			}
			batches := o.ended("tally.commit_batch")
			if len(batches) != 2 {
				t.Fatalf("%d batch spans, want 2", len(batches))
			}
			if ok := batches[0].Status().Code; ok != otelcodes.Unset {
				t.Errorf("the applied batch's span status is %v, want unset", ok)
			}
			faulted := batches[1]
			if got := spanAttr(faulted, "tally.commit.outcome").AsString(); got != tt.outcome {
				t.Errorf("the faulted batch's outcome is %q, want %q", got, tt.outcome)
			}
			if st := faulted.Status(); st.Code != otelcodes.Error || st.Description != "commit "+tt.outcome {
				t.Errorf("the faulted batch's span status is %v %q, want Error %q", st.Code, st.Description, "commit "+tt.outcome)
			}
		})
	}
}

// TestTelemetryOfBatchGet: a BatchGet is one read, counted with the operation batch_get and
// timed, and not as a get per counter.
func TestTelemetryOfBatchGet(t *testing.T) {
	t.Parallel()
	opts := shard.Options{DefaultShards: 2}
	o := observe(t, &opts)
	s := newStore(t, opts)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := s.Increment(ctx, id, 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := s.BatchGet(ctx, []string{"a", "b"})
	if err != nil || len(cs) != 2 {
		t.Fatalf("batch get: %v, %v", cs, err)
	}
	for op, want := range map[string]int64{"batch_get": 1, "get": 0, "list": 0} {
		if got := o.sum(t, "tally.reads", "operation", op); got != want {
			t.Errorf("tally.reads{operation=%s} = %d, want %d", op, got, want)
		}
	}
	if got := o.histogramCount(t, "tally.read.duration", "operation", "batch_get"); got != 1 {
		t.Errorf("tally.read.duration{operation=batch_get} recorded %d reads, want 1", got)
	}
}

// histogramCount adds up the counts of float64 histogram name's data points that have attribute
// key=value.
func (o *observed) histogramCount(t *testing.T, name, key, value string) uint64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				if v, ok := dp.Attributes.Value(attribute.Key(key)); ok && v.AsString() == value {
					total += dp.Count
				}
			}
		}
	}
	return total
}
