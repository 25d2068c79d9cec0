package shard

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Telemetry of the sharding core. Metric names follow OpenTelemetry's conventions; the Prometheus
// exporter adds units and suffixes (tally.commit.duration becomes tally_commit_duration_seconds).
// Every instrument and attribute set is made once in New, so that recording allocates nothing.
//
// Tracing: each coalesced commit of a counter (one batch of a lane) is a span, tally.commit_batch,
// linked to the span of every call it carries (up to the SDK's link limit) and a child of the
// first sampled one, so that the trace of that call shows the batch and, beneath it, the
// Firestore calls the commit makes; every sampled caller's span links back to the batch span, so
// every caller's trace reaches it even past the link limit. With a parent-based sampler a batch is
// recorded exactly when one of its callers is. A BatchIncrement
// is a span, tally.batch_increment, in its caller's trace; a commit that takes the locked path is
// a span, tally.commit_locked, holding the transaction's calls. With a no-op tracer provider none
// of this runs: the callers' contexts are not even looked at.

// instrumentationName is the scope of the core's tracer and meter.
const instrumentationName = "github.com/tally-dev/tally/shard"

// Span names and attributes.
const (
	spanCommitBatch    = "tally.commit_batch"
	spanBatchIncrement = "tally.batch_increment"
	spanCommitLocked   = "tally.commit_locked"

	attrBatchSize     = attribute.Key("tally.batch.size")     // increments in a coalesced batch
	attrBatchKeyed    = attribute.Key("tally.batch.keyed")    // of them, with an idempotency key
	attrBatchCounters = attribute.Key("tally.batch.counters") // counters of a BatchIncrement
	attrKeyed         = attribute.Key("tally.keyed")          // a BatchIncrement has a key
	attrShards        = attribute.Key("tally.shards")         // shard indexes the deltas went to
	attrOutcome       = attribute.Key("tally.commit.outcome") // the last commit attempt's outcome
	attrAttempts      = attribute.Key("tally.commit.attempts")
)

// outcome is how one commit attempt ended: the attribute "outcome" of tally.commit.duration and
// tally.commit.outcomes.
type outcome int

const (
	outcomeNone     outcome = iota // no commit was attempted
	outcomeApplied                 // a conditional (fast) commit applied, even if its answer was lost
	outcomeConflict                // a conditional commit applied nothing: a precondition or a used key
	outcomeFallback                // a transaction (the locked path) committed
	outcomeUnknown                 // it may or may not have applied
	outcomeFailed                  // it certainly applied nothing and is not retried
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"", "applied", "conflict", "transaction_fallback", "unknown", "failed"}

func (o outcome) String() string { return outcomeNames[o] }

// Read operations: the attribute "operation" of tally.reads and tally.read.duration.
type readOp int

const (
	readGet readOp = iota
	readBatchGet
	readList
	numReadOps
)

var readOpNames = [numReadOps]string{"get", "batch_get", "list"}

// Histogram bucket boundaries. Batch sizes reach MaxBatch (500 by default); commits take
// milliseconds against Firestore and up to CommitTimeout when it is unreachable.
var (
	batchSizeBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
	durationBuckets  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
)

// instruments are a store's tracer and metric instruments.
type instruments struct {
	tracer trace.Tracer
	// tracing is false for a no-op tracer provider: then no span is started and no caller's
	// context is looked at.
	tracing bool

	increments     metric.Int64Counter
	duplicates     metric.Int64Counter
	batchSize      metric.Int64Histogram
	commitDuration metric.Float64Histogram
	commitOutcomes metric.Int64Counter
	reads          metric.Int64Counter
	readDuration   metric.Float64Histogram
	shed           metric.Int64Counter
	resizes        metric.Int64Counter
	queueDepth     metric.Int64ObservableGauge
	registration   metric.Registration

	outcomeAdd    [numOutcomes][]metric.AddOption
	outcomeRecord [numOutcomes][]metric.RecordOption
	readAdd       [numReadOps][]metric.AddOption
	readRecord    [numReadOps][]metric.RecordOption
	shedQueueFull []metric.AddOption
}

// newInstruments makes the instruments from the providers of opts (no-op ones when nil); queued
// reports the increments waiting in the store's queues, for tally.queue.depth.
func newInstruments(opts *Options, queued func() int64) (*instruments, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	ins := &instruments{tracing: tp != nil}
	if _, ok := tp.(tracenoop.TracerProvider); ok || tp == nil {
		tp, ins.tracing = tracenoop.NewTracerProvider(), false
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	ins.tracer = tp.Tracer(instrumentationName)
	m := mp.Meter(instrumentationName)

	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	ins.increments = counter("tally.increments", "{increment}",
		"Increments applied: one per Increment or BatchIncrement call whose deltas were committed now (not replays).")
	ins.duplicates = counter("tally.duplicates", "{increment}",
		"Increments answered from an earlier request's idempotency record: nothing was applied again.")
	ins.commitOutcomes = counter("tally.commit.outcomes", "{commit}",
		"Commit attempts by outcome: applied, conflict, transaction_fallback, unknown or failed.")
	ins.reads = counter("tally.reads", "{read}", "Read calls by operation: get, batch_get or list.")
	ins.shed = counter(callsShedMetric, "{call}", callsShedDescription)
	ins.resizes = counter("tally.shard.resizes", "{resize}",
		"Shard counts of adaptive counters changed by this server, by direction (grow or shrink) and reason (conflicts, queueing or cooled).")
	var err error
	ins.batchSize, err = m.Int64Histogram("tally.batch.size", metric.WithUnit("{increment}"),
		metric.WithDescription("Increments coalesced into one commit of a counter."),
		metric.WithExplicitBucketBoundaries(batchSizeBuckets...))
	errs = append(errs, err)
	ins.commitDuration, err = m.Float64Histogram("tally.commit.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one commit attempt (a conditional commit or a whole transaction), by outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	ins.readDuration, err = m.Float64Histogram("tally.read.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of read calls, by operation."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	ins.queueDepth, err = m.Int64ObservableGauge("tally.queue.depth", metric.WithUnit("{increment}"),
		metric.WithDescription("Increments waiting in the coalescing queues for a commit."))
	errs = append(errs, err)
	if err == nil {
		ins.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveInt64(ins.queueDepth, queued())
			return nil
		}, ins.queueDepth)
		errs = append(errs, err)
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("shard: creating metric instruments: %w", err)
		}
	}

	for o := outcomeApplied; o < numOutcomes; o++ {
		set := metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", o.String())))
		ins.outcomeAdd[o] = []metric.AddOption{set}
		ins.outcomeRecord[o] = []metric.RecordOption{set}
	}
	for op := range numReadOps {
		set := metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", readOpNames[op])))
		ins.readAdd[op] = []metric.AddOption{set}
		ins.readRecord[op] = []metric.RecordOption{set}
	}
	ins.shedQueueFull = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", shedReasonQueueFull)))}
	return ins, nil
}

// The shed-calls counter is shared with internal/telemetry, through which the server counts the
// calls over its concurrency limit with another reason: the name, unit and description must be
// the same there, or the Prometheus exporter reports a conflict.
const (
	callsShedMetric      = "tally.calls.shed"
	callsShedDescription = "Calls refused with RESOURCE_EXHAUSTED before anything was applied, by reason."
	// shedReasonQueueFull is the reason of an increment refused because its counter's queue held
	// MaxQueue increments (ErrOverloaded).
	shedReasonQueueFull = "queue_full"
)

// close stops observing the store's queues.
func (ins *instruments) close() {
	if ins.registration != nil {
		_ = ins.registration.Unregister() // fails only for a registration already removed
	}
}

// answered counts a request answered with res and err.
func (ins *instruments) answered(res WriteResult, err error) {
	switch {
	case err != nil:
	case res.Duplicate:
		ins.duplicates.Add(context.Background(), 1)
	default:
		ins.increments.Add(context.Background(), 1)
	}
}

// committed records one commit attempt that ended with o after took (negative when nothing was
// sent to Firestore: then only the outcome is counted).
func (ins *instruments) committed(ctx context.Context, o outcome, took time.Duration) {
	ins.commitOutcomes.Add(ctx, 1, ins.outcomeAdd[o]...)
	if took >= 0 {
		ins.commitDuration.Record(ctx, took.Seconds(), ins.outcomeRecord[o]...)
	}
}

// shedQueue counts an increment refused because its counter's queue is full.
func (ins *instruments) shedQueue(ctx context.Context) { ins.shed.Add(ctx, 1, ins.shedQueueFull...) }

// resized counts a decision of adaptive shard counts carried out.
func (ins *instruments) resized(ctx context.Context, direction, reason string) {
	ins.resizes.Add(ctx, 1, metric.WithAttributes(attribute.String("direction", direction), attribute.String("reason", reason)))
}

// read records a read call that began at start.
func (ins *instruments) read(ctx context.Context, op readOp, start time.Time) {
	ins.reads.Add(ctx, 1, ins.readAdd[op]...)
	ins.readDuration.Record(ctx, time.Since(start).Seconds(), ins.readRecord[op]...)
}

// startBatch starts the span of a coalesced batch in a new context, detached from every caller's
// cancellation: a child of the first sampled caller's span, linking every caller's. Without
// tracing it returns the background context and a nil span, and looks at no caller.
//
// A span keeps only so many links (the SDK's default limit is 128) while a batch carries up to
// MaxBatch (500) calls, so the batch's own links may miss some callers. Each sampled caller's span
// therefore links to the batch span as well, once per caller span: every caller's trace reaches
// its batch, however many share it. tally.batch.size says how many callers there were.
func (ins *instruments) startBatch(calls []*call) (context.Context, trace.Span) {
	ctx := context.Background()
	if !ins.tracing {
		return ctx, nil
	}
	links := make([]trace.Link, 0, len(calls))
	var parent trace.SpanContext
	for _, c := range calls {
		sc := trace.SpanContextFromContext(c.ctx)
		if !sc.IsValid() {
			continue
		}
		links = append(links, trace.Link{SpanContext: sc})
		if !parent.IsSampled() {
			parent = sc
		}
	}
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	ctx, span := ins.tracer.Start(ctx, spanCommitBatch, trace.WithLinks(links...), trace.WithSpanKind(trace.SpanKindInternal))
	linkCallers(calls, span.SpanContext())
	return ctx, span
}

// linkCallers adds a link to the batch span batch to the span of every call whose span is
// sampled and still recording, once per span (calls of one caller span may share a batch). A
// batch that is not sampled is not linked to: its span is never exported.
func linkCallers(calls []*call, batch trace.SpanContext) {
	if !batch.IsSampled() {
		return
	}
	link := trace.Link{SpanContext: batch}
	var linked map[trace.SpanID]bool
	for _, c := range calls {
		sc := trace.SpanContextFromContext(c.ctx)
		if !sc.IsSampled() {
			continue
		}
		span := trace.SpanFromContext(c.ctx)
		if !span.IsRecording() || linked[sc.SpanID()] {
			continue
		}
		if linked == nil {
			linked = make(map[trace.SpanID]bool, len(calls))
		}
		linked[sc.SpanID()] = true
		span.AddLink(link)
	}
}

// start starts a span named name in ctx; without tracing it returns ctx unchanged and a nil span.
func (ins *instruments) start(ctx context.Context, name string) (context.Context, trace.Span) {
	if !ins.tracing {
		return ctx, nil
	}
	return ins.tracer.Start(ctx, name)
}

// endCommit sets what the commitment learned on span and ends it; span may be nil.
func endCommit(span trace.Span, c *commitment, attrs ...attribute.KeyValue) {
	if span == nil {
		return
	}
	if span.IsRecording() {
		span.SetAttributes(attrs...)
		span.SetAttributes(attrOutcome.String(c.last.String()), attrAttempts.Int(c.attempts), attrShards.Int64Slice(c.shardList()))
		if c.last == outcomeUnknown || c.last == outcomeFailed {
			span.SetStatus(codes.Error, "commit "+c.last.String())
		}
	}
	span.End()
}

// noteShards remembers, for the span, the shards a commit attempt put deltas on.
func (c *commitment) noteShards(shards ...int) {
	if c.recording {
		c.shards = append(c.shards, shards...)
	}
}

// noteLocked remembers, for the span, the shards the applied run of a locked commit wrote.
func (c *commitment) noteLocked(run *lockedRun) {
	if !c.recording || run == nil {
		return
	}
	for _, lc := range run.counters {
		for n := range lc.written {
			c.shards = append(c.shards, n)
		}
	}
}

// shardList is the distinct shards noted, in order.
func (c *commitment) shardList() []int64 {
	slices.Sort(c.shards)
	out := make([]int64, 0, len(c.shards))
	for i, n := range c.shards {
		if i == 0 || n != c.shards[i-1] {
			out = append(out, int64(n))
		}
	}
	return out
}
