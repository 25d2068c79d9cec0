package shard

import (
	"container/list"
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/firestore"
)

// Coalescing without timers: while a commit of a counter is in flight, new increments queue;
// when it returns, everything queued (up to MaxBatch) goes out as the next commit: one shard
// increment per shard touched plus every caller's idempotency record. An idle counter's
// increment is committed at once, so coalescing adds no latency.
//
// One commit of a counter at a time (a lane) is the rule: while it waits for durability the
// next batch gathers, so the busier the counter, the bigger its batches, and every commit's cost
// is shared by more increments. A further lane, on a shard of its own, starts only when a full
// batch (MaxBatch) is waiting, up to MaxInFlight lanes. Measured on a hot counter, running
// several lanes all the time split the batches and cost a quarter more CPU per increment.

// entry is the store's in-memory view of one counter. Lock order: Store.mu, then entry.mu.
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

	elem *list.Element // position in Store.lru; guarded by Store.mu
}

// call is one Increment waiting for its commit.
type call struct {
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
func (s *Store) Increment(ctx context.Context, id string, delta int64, key string) (WriteResult, error) {
	if err := checkID("name", id); err != nil {
		return WriteResult{}, err
	}
	if err := checkKey("idempotency_key", key); err != nil {
		return WriteResult{}, err
	}
	c := &call{delta: delta, key: key, fingerprint: incrementFingerprint(delta), done: make(chan WriteResultOrError, 1)}
	if err := s.enqueue(id, c); err != nil {
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
func (s *Store) enqueue(id string, c *call) error {
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
	if e.lanes == 0 || (e.lanes < int(e.maxLanes.Load()) && len(e.queue) >= s.opts.MaxBatch) {
		e.lanes++
		s.raisePeakLanes(e.lanes)
		s.lanes.Add(1)
		go s.runLane(e)
	}
	return nil
}

// raisePeakLanes records n lanes of one counter running at once.
func (s *Store) raisePeakLanes(n int) {
	for {
		peak := s.peakLanes.Load()
		if int64(n) <= peak || s.peakLanes.CompareAndSwap(peak, int64(n)) {
			return
		}
	}
}

// entryLocked returns the counter's entry, creating it and evicting idle ones beyond the cache
// size. Caller holds s.mu.
func (s *Store) entryLocked(id string) *entry {
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
	}
	return e
}

// recordRef is where the record of a keyed increment of this counter lives.
func (e *entry) recordRef(key string) *firestore.DocumentRef { return e.records.Doc(keyHash(key)) }

func (e *entry) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lanes == 0 && len(e.queue) == 0
}

// runLane commits the counter's queued increments batch after batch until the queue is empty.
func (s *Store) runLane(e *entry) {
	defer s.lanes.Done()
	for {
		batch := e.take(s.opts.MaxBatch)
		if batch == nil {
			return
		}
		s.commitLane(e, batch)
	}
}

// take removes up to max live calls from the queue; nil (and the calling lane stops) when none
// is left.
func (e *entry) take(max int) []*call {
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
	if len(e.queue) == 0 {
		e.queue = nil
	}
	if len(batch) == 0 {
		e.lanes--
	}
	return batch
}

// commitLane commits one batch of a counter's increments and answers every call in it. The first
// attempt is a plain commit, conditional on the shard versions this server knows: with one server
// per counter it does not conflict. A failed commit is inspected (was it applied after all? which
// keys were used before?) and the rest is committed in a transaction.
func (s *Store) commitLane(e *entry, calls []*call) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()

	// Calls repeating a key already in this batch share the first one's fate.
	followers := map[*call][]*call{}
	leaders := map[string]*call{}
	var pending []*call
	for _, c := range calls {
		if c.key == "" {
			pending = append(pending, c)
			continue
		}
		if l, ok := leaders[c.key]; ok {
			if _, err := (record{key: l.key, fingerprint: l.fingerprint}).replay(c.key, c.fingerprint); err != nil {
				c.finish(WriteResult{}, err)
			} else {
				followers[l] = append(followers[l], c)
			}
			continue
		}
		leaders[c.key] = c
		pending = append(pending, c)
	}
	settle := func(c *call, r WriteResult, err error) {
		c.finish(r, err)
		for _, f := range followers[c] {
			if err == nil {
				r.Duplicate = true
			}
			f.finish(r, err)
		}
	}
	settleAll := func(calls []*call, r WriteResult, err error) {
		for _, c := range calls {
			settle(c, r, err)
		}
	}

	var attempts []string
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxAttempts {
			settleAll(pending, WriteResult{}, ErrContention)
			return
		}
		e.stateMu.Lock()
		if err := s.ensureWritable(ctx, e.id, &e.st); err != nil {
			e.stateMu.Unlock()
			settleAll(pending, WriteResult{}, classify(err))
			return
		}
		e.maxLanes.Store(int32(min(s.opts.MaxInFlight, e.st.shardCount)))
		if attempt > 0 {
			// A conditional commit lost a race: commit under locks instead.
			e.stateMu.Unlock()
			pending = s.commitInTransaction(ctx, e, pending, &attempts, settle)
			continue
		}
		plan := newShardPlan(e, &e.st)
		var planned []*call
		for _, c := range pending {
			if err := plan.add(c.delta); err != nil {
				settle(c, WriteResult{}, err)
				continue
			}
			planned = append(planned, c)
		}
		plan.reserve()
		e.stateMu.Unlock()
		pending = planned
		if len(pending) == 0 {
			e.releasePlan(plan)
			return
		}

		name := newAttempt()
		attempts = append(attempts, name)
		wb := s.client.Batch()
		s.addWrites(wb, plan, name)
		var refs []*firestore.DocumentRef
		for _, n := range slices.Sorted(maps.Keys(plan.refs)) {
			refs = append(refs, plan.refs[n])
		}
		var recordRefs []*firestore.DocumentRef
		keyed := map[*firestore.DocumentRef]*call{}
		for _, c := range pending {
			if c.key != "" {
				ref := e.recordRef(c.key)
				wb.Create(ref, s.recordData(c.key, c.fingerprint, name))
				recordRefs = append(recordRefs, ref)
				keyed[ref] = c
			}
		}
		if len(refs) == 0 && len(recordRefs) == 0 {
			// Only zero deltas without keys: nothing to write.
			e.releasePlan(plan)
			settleAll(pending, WriteResult{CommitTime: s.opts.Now()}, nil)
			return
		}
		commitTime, times, err := commitWrites(ctx, wb, append(refs, recordRefs...))
		if err == nil {
			e.stateMu.Lock()
			plan.committed(times)
			plan.release()
			e.stateMu.Unlock()
			s.commits.Add(1)
			s.increments.Add(uint64(len(pending)))
			settleAll(pending, WriteResult{CommitTime: commitTime}, nil)
			return
		}
		in, ierr := s.inspect(ctx, []*shardPlan{plan}, recordRefs, attempts)
		e.releasePlan(plan)
		if ierr == nil && in.applied {
			// An earlier attempt of this very batch was applied; its answer was lost.
			settleAll(pending, WriteResult{CommitTime: in.appliedAt}, nil)
			return
		}
		if ierr != nil || !outcomeKnown(err) {
			e.invalidate()
			settleAll(pending, WriteResult{}, classify(err))
			return
		}
		// Settle the calls whose keys were used before, and try the rest again.
		settled := map[*call]bool{}
		for ref, d := range in.records {
			c := keyed[ref]
			r, err := replayRecord(d, c.key, c.fingerprint)
			settle(c, r, err)
			settled[c] = true
		}
		pending = slices.DeleteFunc(pending, func(c *call) bool { return settled[c] })
	}
}

// releasePlan frees the shards plan reserved.
func (e *entry) releasePlan(p *shardPlan) {
	e.stateMu.Lock()
	p.release()
	e.stateMu.Unlock()
}

// invalidate drops the cached state so that the next commit reloads it.
func (e *entry) invalidate() {
	e.stateMu.Lock()
	e.st.invalidate()
	e.stateMu.Unlock()
}

// replayRecord answers a request from its stored record.
func replayRecord(d *firestore.DocumentSnapshot, key, fingerprint string) (WriteResult, error) {
	r, err := recordOf(d)
	if err != nil {
		return WriteResult{}, err
	}
	return r.replay(key, fingerprint)
}
