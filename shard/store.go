// Package shard is tally's sharding core: it spreads each counter over shard documents in
// Firestore, coalesces concurrent increments, applies idempotency keys exactly once, sums shards
// on read and resizes counters without changing their value.
//
// Guarantees: an acknowledged increment is durable in Firestore. An increment with an
// idempotency key applies at most once per (counter, key) while its record lives (KeyRetention),
// a keyed BatchIncrement once per (set of counters, key), even when a commit's answer is lost and
// the client library re-sends it. An increment without a
// key is at-least-once, as with Firestore's own increment: when the outcome of a commit cannot be
// established the caller gets ErrUnknownOutcome, and retrying may apply it twice.
package shard

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The defaults of Options, exported so that a binary's flags default to the same values.
const (
	DefaultShards            = 16
	DefaultKeyRetention      = 24 * time.Hour
	DefaultMaxBatch          = 500
	DefaultMaxInFlight       = 4
	DefaultMaxQueue          = 20_000
	DefaultMetadataTTL       = 30 * time.Second
	DefaultMaxCachedCounters = 100_000
	DefaultCommitTimeout     = 30 * time.Second
	DefaultWatchInterval     = 250 * time.Millisecond
	DefaultMinWatchInterval  = 50 * time.Millisecond
)

// The defaults of the adaptive options are in adaptive.go.

// Options configure a Counters. Zero fields take the defaults above.
type Options struct {
	// DefaultShards is the shard count of counters created implicitly or with 0 shards, 1 to
	// MaxShards; default DefaultShards (16).
	DefaultShards int
	// KeyRetention is how long idempotency records are kept (their expire_at); default 24h.
	KeyRetention time.Duration
	// MaxBatch bounds how many increments of one counter are coalesced into one commit; default 500.
	MaxBatch int
	// MaxInFlight bounds the commits of one counter in flight at once (each on its own shard);
	// default 4. A counter commits one batch at a time unless a full batch (MaxBatch) is waiting.
	MaxInFlight int
	// MaxQueue bounds the increments of one counter waiting for a commit; past it, requests are
	// shed with ErrOverloaded. Default 20,000.
	MaxQueue int
	// MetadataTTL is how long a counter's cached view is trusted before it is re-read; default
	// 30s. Correctness never depends on it: every fast shard write is conditional on the shard's
	// last known version, which every change of configuration anywhere invalidates. Re-reading
	// an old view saves the failed commit that would discover it is out of date.
	MetadataTTL time.Duration
	// MaxCachedCounters bounds how many idle counters' configurations are kept; default 100,000.
	MaxCachedCounters int
	// CommitTimeout bounds one coalesced commit, including its retries; default 30s.
	CommitTimeout time.Duration
	// WatchInterval is the least time between two updates of a watch that asks for no interval
	// of its own; default 250ms. Changes within it are coalesced into one update.
	WatchInterval time.Duration
	// MinWatchInterval is the least interval a watch may ask for; shorter ones are raised to it.
	// Default 50ms.
	MinWatchInterval time.Duration
	// MaxWatchedCounters bounds the counters watched at once on this server, each with two
	// Firestore listeners (long-lived streams) of the client; a watch of one more fails with
	// ErrTooManyWatched. Default 40: Google's front ends take about 100 streams per connection,
	// reads included, and a client has one connection unless given a pool
	// (option.WithGRPCConnectionPool), whose connections share the streams. The emulator has no
	// such limit.
	MaxWatchedCounters int
	// The bounds and pace of adaptive shard counts (adaptive.go), which apply to the counters
	// with adaptive shards on. AdaptiveMinShards and AdaptiveMaxShards bound the counts the
	// servers choose (1 and 64 by default; counts users set are theirs); AdaptiveStep is the
	// factor one decision multiplies or divides the count by (default 2); AdaptiveWindow is how
	// often each counter is judged (default 10s); AdaptiveCooldown is how long a counter must go
	// without contention before it shrinks (default 5m).
	AdaptiveMinShards int
	AdaptiveMaxShards int
	AdaptiveStep      int
	AdaptiveWindow    time.Duration
	AdaptiveCooldown  time.Duration
	// Logger receives what an operator may want to know of the commit sequence: a warning for
	// every commit whose outcome is unknown, a debug line for every fall back to the locked path.
	// Nil discards it.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// TracerProvider traces coalesced commits, batch increments and locked commits (telemetry.go);
	// nil, or a no-op provider, traces nothing and costs nothing per increment.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the core's metrics (telemetry.go); nil discards them.
	MeterProvider metric.MeterProvider
}

func (o *Options) setDefaults() error {
	if o.DefaultShards == 0 {
		o.DefaultShards = DefaultShards
	}
	if o.DefaultShards < 1 || o.DefaultShards > MaxShards {
		return fmt.Errorf("shard: DefaultShards is %d; it must be between 1 and %d", o.DefaultShards, MaxShards)
	}
	if o.KeyRetention <= 0 {
		o.KeyRetention = DefaultKeyRetention
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	if o.MetadataTTL <= 0 {
		o.MetadataTTL = DefaultMetadataTTL
	}
	if o.MaxCachedCounters <= 0 {
		o.MaxCachedCounters = DefaultMaxCachedCounters
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	if o.MinWatchInterval <= 0 {
		o.MinWatchInterval = DefaultMinWatchInterval
	}
	if o.WatchInterval <= 0 {
		o.WatchInterval = DefaultWatchInterval
	}
	o.WatchInterval = max(o.WatchInterval, o.MinWatchInterval)
	if o.MaxWatchedCounters <= 0 {
		o.MaxWatchedCounters = DefaultMaxWatchedCounters
	}
	if o.AdaptiveMinShards == 0 {
		o.AdaptiveMinShards = DefaultAdaptiveMinShards
	}
	if o.AdaptiveMaxShards == 0 {
		o.AdaptiveMaxShards = max(DefaultAdaptiveMaxShards, o.AdaptiveMinShards)
	}
	if o.AdaptiveStep == 0 {
		o.AdaptiveStep = DefaultAdaptiveStep
	}
	if o.AdaptiveWindow == 0 {
		o.AdaptiveWindow = DefaultAdaptiveWindow
	}
	if o.AdaptiveCooldown == 0 {
		o.AdaptiveCooldown = DefaultAdaptiveCooldown
	}
	if err := o.validateAdaptive(); err != nil {
		return err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Counters manages the sharded counters of one Firestore database: it coalesces and commits
// their increments, reads their values and changes their configuration. It is safe for
// concurrent use.
type Counters struct {
	client *firestore.Client
	opts   Options

	mu      sync.Mutex // guards entries, lru, closed
	entries map[string]*entry
	lru     *list.List // of *entry, most recently used first
	closed  bool
	lanes   sync.WaitGroup // running lanes and other operations Close waits for
	watches watchHubs      // the shared listeners of watched counters (watch_hub.go)

	// Adaptive shard counts (adaptive.go). Lock order: an entry's stateMu, then adaptMu.
	adaptMu     sync.Mutex          // guards adaptive, adaptStop, adaptDone, adaptClosed
	adaptive    map[*entry]struct{} // the cached counters with adaptive shards on
	adaptStop   chan struct{}       // closed to stop the evaluation; nil while none runs
	adaptDone   chan struct{}       // closed when it has stopped
	adaptClosed bool                // Close stopped it for good
	evalMu      sync.Mutex          // one evaluation at a time

	ins       *instruments
	queued    atomic.Int64 // increments in every counter's queue, for tally.queue.depth
	closeOnce sync.Once

	commits    atomic.Uint64 // coalesced commits that succeeded
	increments atomic.Uint64 // increments they carried
	peakLanes  atomic.Int64  // most lanes of one counter that ran at once
}

// Stats counts the work of the coalescer since the store was created.
type Stats struct {
	Commits    uint64 // coalesced commits that succeeded
	Increments uint64 // increments they carried; Increments/Commits is the average batch size
	PeakLanes  int    // most commits of one counter that were in flight at once
}

// Stats returns the coalescer's counts.
func (s *Counters) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Increments: s.increments.Load(), PeakLanes: int(s.peakLanes.Load())}
}

// New returns a Counters over client. The client stays the caller's to close, after Counters.Close.
func New(client *firestore.Client, opts Options) (*Counters, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	s := &Counters{client: client, opts: opts, entries: map[string]*entry{}, lru: list.New(), adaptive: map[*entry]struct{}{}}
	ins, err := newInstruments(&s.opts, s.queued.Load)
	if err != nil {
		return nil, err
	}
	s.ins = ins
	return s, nil
}

// Close stops accepting increments and waits until every queued increment has been committed
// and answered, or ctx ends. Every watch ends with ErrClosed at once: a watch never ends by
// itself, and a server waiting for its streams to end would wait forever.
func (s *Counters) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.watches.close()
	s.stopAdapting()
	// The meter provider outlives the store: once the queues are drained (or Close gives up),
	// stop it observing them.
	defer s.closeOnce.Do(s.ins.close)
	drained := make(chan struct{})
	go func() {
		s.lanes.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pin returns the entries of ids (distinct, in id order) for an operation outside the lanes,
// kept from eviction until unpin.
func (s *Counters) pin(ids []string) []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := make([]*entry, len(ids))
	for i, id := range ids {
		entries[i] = s.entryLocked(id)
		entries[i].pins++
	}
	return entries
}

func (s *Counters) unpin(entries []*entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		e.pins--
	}
}

// forget drops this server's cached view of a counter after a change of its configuration.
func (s *Counters) forget(id string) {
	s.mu.Lock()
	e := s.entries[id]
	s.mu.Unlock()
	if e != nil {
		e.invalidate()
	}
}
