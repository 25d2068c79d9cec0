package shard

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/firestore"
)

// Coalescing without timers: while a commit of a counter is in flight, new increments queue;
// when it returns, everything queued (up to MaxBatch) goes out as the next commit: one shard
// increment per shard touched plus every caller's idempotency record (sequence.go). An idle counter's
// increment is committed at once, so coalescing adds no latency.
//
// One commit of a counter at a time (a lane) is the rule: while it waits for durability the
// next batch gathers, so the busier the counter, the bigger its batches, and every commit's cost
// is shared by more increments. A further lane, on a shard of its own, starts only when a full
// batch (MaxBatch) is waiting, up to MaxInFlight lanes. Measured on a hot counter, running
// several lanes all the time split the batches and cost a quarter more CPU per increment.

// entry is the store's in-memory view of one counter. Lock order: Counters.mu, then entry.mu.
// entry.stateMu is never held across a call to Firestore except to (re)load the state.
type entry struct {
	id      string
	records *firestore.CollectionRef // built once: a reference costs a few µs to build

	mu    sync.Mutex // guards queue and lanes
	queue []*call
	lanes int // lanes running
	// maxLanes caps lanes: each commit needs a shard of its own, so never more than the counter
	// has. 1 until the counter's configuration is known.
	maxLanes atomic.Int32

	stateMu sync.Mutex // guards st and busy
	st      counterState
	busy    map[int]int // shard → commits in flight that write it

	elem *list.Element // position in Counters.lru; guarded by Counters.mu
	pins int           // operations outside the lanes using the entry; guarded by Counters.mu

	// adapt is what this server observes of an adaptive counter (adaptive.go); nil for the
	// others, which then pay one atomic load where an adaptive one counts.
	adapt atomic.Pointer[adaptState]
}

// call is one Increment waiting for its commit.
type call struct {
	ctx         context.Context // the caller's: only its span context is used, to link the batch to it
	delta       int64
	key         string
	fingerprint string
	done        chan WriteResultOrError
	abandoned   atomic.Bool // the caller gave up while queued: drop it
}

// WriteResultOrError is what a queued call is answered with.
type WriteResultOrError struct {
	Result WriteResult
	Err    error
}

func (c *call) finish(r WriteResult, err error) { c.done <- WriteResultOrError{r, err} }

// Increment adds delta to the counter, creating it with the default shard count on first use. With
// a key it applies at most once per (counter, key) within the key retention.
func (s *Counters) Increment(ctx context.Context, id string, delta int64, key string) (WriteResult, error) {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return WriteResult{}, err
	}
	if err := check("key", ValidateKey(key)); err != nil {
		return WriteResult{}, err
	}
	c := &call{ctx: ctx, delta: delta, key: key, fingerprint: incrementFingerprint(delta), done: make(chan WriteResultOrError, 1)}
	if err := s.enqueue(id, c); err != nil {
		if err == ErrOverloaded {
			s.ins.shedQueue(ctx)
		}
		return WriteResult{}, err
	}
	select {
	case r := <-c.done:
		return r.Result, r.Err
	case <-ctx.Done():
		// Still queued: it will be dropped. Already committing: its outcome is unknown to the caller.
		c.abandoned.Store(true)
		return WriteResult{}, ctx.Err()
	}
}

// enqueue adds c to the counter's lane and starts the lane if idle.
func (s *Counters) enqueue(id string, c *call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	e := s.entryLocked(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.queue) >= s.opts.MaxQueue {
		return ErrOverloaded
	}
	e.queue = append(e.queue, c)
	s.queued.Add(1)
	if e.lanes == 0 || (e.lanes < int(e.maxLanes.Load()) && len(e.queue) >= s.opts.MaxBatch) {
		e.lanes++
		s.raisePeakLanes(e.lanes)
		if a := e.adapt.Load(); a != nil {
			a.raisePeak(e.lanes)
		}
		s.lanes.Add(1)
		go s.runLane(e)
	}
	return nil
}

// raisePeakLanes records n lanes of one counter running at once.
func (s *Counters) raisePeakLanes(n int) {
	for {
		peak := s.peakLanes.Load()
		if int64(n) <= peak || s.peakLanes.CompareAndSwap(peak, int64(n)) {
			return
		}
	}
}

// entryLocked returns the counter's entry, creating it and evicting idle ones beyond the cache
// size. Caller holds s.mu.
func (s *Counters) entryLocked(id string) *entry {
	if e, ok := s.entries[id]; ok {
		s.lru.MoveToFront(e.elem)
		return e
	}
	e := &entry{id: id, records: s.recordsRef(id), busy: map[int]int{}}
	e.maxLanes.Store(1)
	e.elem = s.lru.PushFront(e)
	s.entries[id] = e
	for s.lru.Len() > s.opts.MaxCachedCounters {
		victim := s.lru.Back().Value.(*entry)
		if !victim.idle() {
			break // busy counters stay; the cache may exceed its size while they are
		}
		s.lru.Remove(victim.elem)
		delete(s.entries, victim.id)
		s.untrack(victim)
	}
	return e
}

// recordRef is where the record of a keyed increment of this counter lives.
func (e *entry) recordRef(key string) *firestore.DocumentRef { return e.records.Doc(keyHash(key)) }

// idle reports whether nothing uses the entry, so that it may be evicted. The caller holds
// Counters.mu.
func (e *entry) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pins == 0 && e.lanes == 0 && len(e.queue) == 0
}

// runLane commits the counter's queued increments batch after batch until the queue is empty.
func (s *Counters) runLane(e *entry) {
	defer s.lanes.Done()
	for {
		batch := e.take(s.opts.MaxBatch, &s.queued)
		if batch == nil {
			return
		}
		if a := e.adapt.Load(); a != nil && len(batch) == s.opts.MaxBatch {
			e.noteQueueing(a, s.opts.MaxBatch, s.opts.MaxInFlight)
		}
		s.commitLane(e, batch)
	}
}

// take removes up to max live calls from the queue, and the calls it passes from queued; nil (and
// the calling lane stops) when none is left.
func (e *entry) take(max int, queued *atomic.Int64) []*call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var batch []*call
	i := 0
	for ; i < len(e.queue) && len(batch) < max; i++ {
		if !e.queue[i].abandoned.Load() {
			batch = append(batch, e.queue[i])
		}
	}
	e.queue = e.queue[i:]
	queued.Add(-int64(i))
	if len(e.queue) == 0 {
		e.queue = nil
	}
	if len(batch) == 0 {
		e.lanes--
	}
	return batch
}

// noteQueueing counts a sign of contention if, after a full batch was taken, another full batch
// waits while every lane the shard count allows runs, and more shards would allow more lanes.
func (e *entry) noteQueueing(a *adaptState, maxBatch, maxInFlight int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if limit := int(e.maxLanes.Load()); len(e.queue) >= maxBatch && e.lanes >= limit && limit < maxInFlight {
		a.queueing.Add(1)
	}
}

// commitLane commits one batch of a counter's increments and answers every call in it.
func (s *Counters) commitLane(e *entry, calls []*call) {
	reqs := make([]*request, len(calls))
	keyed := 0
	for i, c := range calls {
		r := &request{parts: []part{{e, c.delta}}, key: c.key, fingerprint: c.fingerprint, answer: c.finish, ins: s.ins}
		if c.key != "" {
			r.record = e.recordRef(c.key)
			keyed++
		}
		reqs[i] = r
	}
	ctx, span := s.ins.startBatch(calls)
	s.ins.batchSize.Record(ctx, int64(len(calls)))
	c := s.commitRequests(ctx, []*entry{e}, reqs, span)
	endCommit(span, c, attrBatchSize.Int(len(calls)), attrBatchKeyed.Int(keyed))
}

// invalidate drops the cached state so that the next commit reloads it.
func (e *entry) invalidate() {
	e.stateMu.Lock()
	e.st.invalidate()
	e.stateMu.Unlock()
}
