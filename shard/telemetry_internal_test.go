package shard

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// TestRecordingAllocatesNothing: with metrics recorded by the SDK and tracing off (no provider,
// or a no-op one), what the core records per increment, per batch and per read allocates nothing,
// and a batch starts no span.
func TestRecordingAllocatesNothing(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"no tracer provider", Options{MeterProvider: mp}},
		{"no-op tracer provider", Options{MeterProvider: mp, TracerProvider: tracenoop.NewTracerProvider()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := newInstruments(&tt.opts, func() int64 { return 0 })
			if err != nil {
				t.Fatal(err)
			}
			defer ins.close()
			ctx := context.Background()
			calls := []*call{{ctx: ctx}, {ctx: ctx}}
			c := &commitment{}
			start := time.Now()
			// Once first: the SDK makes each attribute set's aggregator on its first use.
			record := func() {
				ins.answered(WriteResult{}, nil)
				ins.answered(WriteResult{Duplicate: true}, nil)
				bctx, span := ins.startBatch(calls)
				ins.batchSize.Record(bctx, int64(len(calls)))
				ins.committed(bctx, outcomeApplied, time.Millisecond)
				endCommit(span, c)
				_, span = ins.start(ctx, spanBatchIncrement)
				endCommit(span, c)
				ins.read(ctx, readGet, start)
				ins.shedQueue(ctx)
			}
			record()
			if n := testing.AllocsPerRun(100, record); n != 0 {
				t.Errorf("%v allocations per increment, batch and read recorded", n)
			}
			if _, span := ins.startBatch(calls); span != nil {
				t.Error("a batch started a span with tracing off")
			}
		})
	}
}
