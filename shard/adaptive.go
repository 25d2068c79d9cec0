package shard

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
)

// Adaptive shard counts. A counter created (or updated) with adaptive shards on has its shard
// count chosen by the servers: each server watches its own commits of the counter and, once a
// window (Options.AdaptiveWindow), decides whether to resize it.
//
// Grow: at least adaptiveGrowAfter signs of contention in the window, and at least one for every
// adaptiveGrowRatio commits (a tenth), multiply the shard count by AdaptiveStep, up to AdaptiveMaxShards.
// The signs, counted apart: conflicts, a fast commit that lost a race for a shard to a writer
// that wrote it while the commit was in flight (the next try takes the locked path, whose
// transactions serialize the writers; a cache that had merely missed earlier writes is no sign,
// as that happens however many shards there are) or a commit given up after maxAttempts
// conflicts; and queueing, a batch that left a full batch waiting while every lane the shard
// count allows was busy. Queueing grows a counter only up to MaxInFlight shards: more shards
// than lanes would not let more commits run at once.
//
// Shrink: no sign of contention for AdaptiveCooldown since the shard count last changed (here or
// on any server: a changed count seen in the cache counts from when it was seen), and never
// more lanes at once on this server than the smaller count allows: divide by AdaptiveStep, down
// to AdaptiveMinShards. A counter whose load would make it contend at the smaller count grows
// back within a window; under a steady load that contends only across servers, it spends at most
// one window per cooldown at the smaller count.
//
// A decision is an ordinary resize (admin.go): one transaction that locks every shard, spreads
// the exact total over the new count and rewrites every shard, so the value never changes and
// every other server learns of it by its next failed precondition. The transaction goes ahead
// only if the counter is still adaptive and still has the count the decision was made from: when
// two servers decide at once, the second finds the count changed and does nothing, so one
// window's contention grows a counter once, not once per server. Resizes of one counter, by
// decisions or by users, serialize like any transactions on its shards.
//
// Costs: nothing for counters that are not adaptive, beyond one atomic load per commit, per batch
// and per lane started. For adaptive ones, a few atomic adds per commit, and one evaluation per
// window of every adaptive counter in the cache. A counter evicted from the cache is no longer
// evaluated by that server until it is used again.

// The defaults of the adaptive options.
const (
	DefaultAdaptiveMinShards = 1
	DefaultAdaptiveMaxShards = 64
	DefaultAdaptiveStep      = 2
	DefaultAdaptiveWindow    = 10 * time.Second
	DefaultAdaptiveCooldown  = 5 * time.Minute
)

// A window with at least adaptiveGrowAfter signs of contention, and at least one per
// adaptiveGrowRatio commits, grows the counter: a single race between two servers is chance,
// several in a window are a pattern; and a counter whose commits conflict less than one time in
// ten pays less for its conflicts (a read back and a transaction each) than more shards would
// cost every read.
const (
	adaptiveGrowAfter = 3
	adaptiveGrowRatio = 10
)

// Why an adaptive counter was resized: the attributes of tally.shard.resizes.
const (
	directionGrow   = "grow"
	directionShrink = "shrink"
	reasonConflicts = "conflicts" // commits raced for shards
	reasonQueueing  = "queueing"  // full batches waited for a lane
	reasonCooled    = "cooled"    // no contention for a cooldown
)

// adaptState is what a server observes of one adaptive counter. The counters are added to by the
// commit sequence without a lock; the rest belongs to the evaluation (Counters.adaptMu).
type adaptState struct {
	conflicts atomic.Int64 // commits that raced for a shard, or gave up after conflicts
	queueing  atomic.Int64 // batches that left a full batch waiting for a lane
	commits   atomic.Int64 // commitments of the counter
	peakLanes atomic.Int32 // most lanes at once since the shard count was last seen to change

	shards    int       // the shard count at the last evaluation
	changed   time.Time // when that count was first seen
	contended time.Time // the last window with a sign of contention
}

// raisePeak records n lanes running at once.
func (a *adaptState) raisePeak(n int) {
	for {
		peak := a.peakLanes.Load()
		if int32(n) <= peak || a.peakLanes.CompareAndSwap(peak, int32(n)) {
			return
		}
	}
}

// contended counts a sign of contention on the entry's counter, if it is adaptive.
func (e *entry) contended() {
	if a := e.adapt.Load(); a != nil {
		a.conflicts.Add(1)
	}
}

// track starts or stops evaluating the entry's counter as its configuration says. The caller
// holds e.stateMu; adaptMu comes after it in the lock order.
func (s *Counters) track(e *entry, adaptive bool) {
	if adaptive == (e.adapt.Load() != nil) {
		return
	}
	s.adaptMu.Lock()
	defer s.adaptMu.Unlock()
	if !adaptive {
		e.adapt.Store(nil)
		delete(s.adaptive, e)
		return
	}
	e.adapt.Store(&adaptState{})
	s.adaptive[e] = struct{}{}
	if s.adaptStop == nil && !s.adaptClosed {
		// The first adaptive counter starts the evaluation, once a window.
		s.adaptStop, s.adaptDone = make(chan struct{}), make(chan struct{})
		go s.adaptLoop(s.adaptStop, s.adaptDone)
	}
}

// untrack forgets an entry evicted from the cache. The caller holds s.mu.
func (s *Counters) untrack(e *entry) {
	if e.adapt.Load() == nil {
		return
	}
	s.adaptMu.Lock()
	delete(s.adaptive, e)
	s.adaptMu.Unlock()
}

// adaptLoop evaluates the adaptive counters once a window until stop is closed.
func (s *Counters) adaptLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	tick := time.NewTicker(s.opts.AdaptiveWindow)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			s.adaptNow(ctx)
		}
	}
}

// stopAdapting ends the evaluation and waits for it.
func (s *Counters) stopAdapting() {
	s.adaptMu.Lock()
	stop, done := s.adaptStop, s.adaptDone
	s.adaptStop, s.adaptClosed = nil, true
	s.adaptMu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// adaptNow evaluates every adaptive counter in the cache once, ending one window, and carries
// out its decisions one after another.
func (s *Counters) adaptNow(ctx context.Context) {
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	s.adaptMu.Lock()
	entries := make([]*entry, 0, len(s.adaptive))
	for e := range s.adaptive {
		entries = append(entries, e)
	}
	s.adaptMu.Unlock()
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		s.evaluate(ctx, e)
	}
}

// evaluate ends the window of one adaptive counter and resizes it if the window says so.
func (s *Counters) evaluate(ctx context.Context, e *entry) {
	a := e.adapt.Load()
	if a == nil {
		return
	}
	conflicts, queueing, commits := a.conflicts.Swap(0), a.queueing.Swap(0), a.commits.Swap(0)
	e.stateMu.Lock()
	if !e.st.loaded {
		// Dropped after a change of configuration (such as the last decision) and not used
		// since: an idle counter is loaded once, to be judged.
		if err := s.ensureLoaded(ctx, e); err != nil {
			e.stateMu.Unlock()
			return
		}
	}
	n, adaptive := e.st.shardCount, e.st.exists && e.st.adaptive
	if !adaptive {
		s.track(e, false) // turned off, deleted, or created anew without it
	}
	e.stateMu.Unlock()
	if !adaptive {
		return
	}
	now := s.opts.Now()
	if n != a.shards {
		a.shards, a.changed = n, now
		e.mu.Lock()
		a.peakLanes.Store(int32(e.lanes))
		e.mu.Unlock()
	}
	events := conflicts + queueing
	if events > 0 {
		a.contended = now
	}
	o := &s.opts
	grown := min(o.AdaptiveMaxShards, max(n*o.AdaptiveStep, o.AdaptiveMinShards))
	var to int
	var direction, reason string
	switch {
	case n >= o.AdaptiveMaxShards:
	case conflicts >= adaptiveGrowAfter && conflicts*adaptiveGrowRatio >= commits:
		to, direction, reason = grown, directionGrow, reasonConflicts
	case queueing >= adaptiveGrowAfter && queueing*adaptiveGrowRatio >= commits && n < o.MaxInFlight:
		// More shards than lanes would not let more commits run at once.
		to, direction, reason = min(grown, o.MaxInFlight), directionGrow, reasonQueueing
	}
	switch {
	case to != 0:
	case events == 0 && n > o.AdaptiveMinShards && now.Sub(later(a.changed, a.contended)) >= o.AdaptiveCooldown:
		to, direction, reason = max(n/o.AdaptiveStep, o.AdaptiveMinShards), directionShrink, reasonCooled
		if int(a.peakLanes.Load()) > to {
			return // this server ran more commits of the counter at once than the smaller count allows
		}
	default:
		return
	}
	applied, err := s.adaptResize(ctx, e.id, n, to)
	if err != nil && (ctx.Err() != nil || errors.Is(err, ErrClosed)) {
		return // the store is closing
	}
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "adaptive shard count: resize failed", "counter", e.id, "from", n, "to", to,
			"reason", reason, "error", err)
		return
	}
	if !applied {
		return // the counter changed first (another server's decision, or a user's): judged again next window
	}
	a.shards, a.changed = to, now
	a.peakLanes.Store(0)
	s.ins.resized(ctx, direction, reason)
	s.opts.Logger.InfoContext(ctx, "adaptive shard count changed", "counter", e.id, "from", n, "to", to, "reason", reason,
		"conflicts", conflicts, "queueing", queueing, "commits", commits)
}

// adaptResize resizes counter id from shard count from to count to, if it is still adaptive and
// still has from shards; applied is false if not.
func (s *Counters) adaptResize(ctx context.Context, id string, from, to int) (applied bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommitTimeout)
	defer cancel()
	stale := false
	_, err = s.transact(ctx, id, func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
		if stale = !cfg.adaptive || cfg.shardCount != from; stale {
			return nil // a commit without writes
		}
		_, _, err := s.respread(tx, id, cfg, shards, to)
		return err
	})
	if err != nil {
		return false, err
	}
	return !stale, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// validateAdaptive checks the adaptive options once their defaults are set.
func (o *Options) validateAdaptive() error {
	switch {
	case o.AdaptiveMinShards < 1 || o.AdaptiveMinShards > MaxShards:
		return fmt.Errorf("shard: AdaptiveMinShards is %d; it must be between 1 and %d", o.AdaptiveMinShards, MaxShards)
	case o.AdaptiveMaxShards < o.AdaptiveMinShards || o.AdaptiveMaxShards > MaxShards:
		return fmt.Errorf("shard: AdaptiveMaxShards is %d; it must be between AdaptiveMinShards (%d) and %d", o.AdaptiveMaxShards, o.AdaptiveMinShards, MaxShards)
	case o.AdaptiveStep < 2 || o.AdaptiveStep > MaxShards:
		return fmt.Errorf("shard: AdaptiveStep is %d; it must be between 2 and %d", o.AdaptiveStep, MaxShards)
	case o.AdaptiveWindow < 0 || o.AdaptiveCooldown < 0:
		return fmt.Errorf("shard: AdaptiveWindow (%s) and AdaptiveCooldown (%s) must not be negative", o.AdaptiveWindow, o.AdaptiveCooldown)
	}
	return nil
}
