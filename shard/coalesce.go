package shard

import (
	"container/list"
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/firestore"
)

// Coalescing without timers: each counter has a lane. While one commit of the counter is in
// flight, new increments queue; when it returns, everything queued (up to MaxBatch) goes out as
// the next commit: one shard increment per shard touched plus every caller's idempotency record.
// An idle counter's increment is committed at once, so coalescing adds no latency; a hot counter
// commits as often as Firestore answers, with ever larger batches.

// entry is the store's in-memory view of one counter. Lock order: Store.mu, then entry.mu; and
// entry.stateMu, which is held across a whole commit, is never taken under either.
type entry struct {
	id string

	mu      sync.Mutex // guards queue and running
	queue   []*call
	running bool

	stateMu sync.Mutex // guards st and serializes this server's commits to the counter
	st      counterState

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
	if !e.running {
		e.running = true
		s.lanes.Add(1)
		go s.runLane(e)
	}
	return nil
}

// entryLocked returns the counter's entry, creating it and evicting idle ones beyond the cache
// size. Caller holds s.mu.
func (s *Store) entryLocked(id string) *entry {
	if e, ok := s.entries[id]; ok {
		s.lru.MoveToFront(e.elem)
		return e
	}
	e := &entry{id: id}
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

func (e *entry) idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.running && len(e.queue) == 0
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

// take removes up to max live calls from the queue; nil (and the lane stops) when none is left.
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
		e.running = false
	}
	return batch
}

// commitLane commits one batch of a counter's increments and answers every call in it. The first
// attempt is a plain commit, conditional on the shard versions this server knows: with one server
// per counter it never conflicts. A failed commit is inspected (was it applied after all? which
// keys were used before?) and the rest is committed in a transaction.
func (s *Store) commitLane(e *entry, calls []*call) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()
	e.stateMu.Lock()
	defer e.stateMu.Unlock()

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

	var attempts []string
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxAttempts {
			for _, c := range pending {
				settle(c, WriteResult{}, ErrContention)
			}
			return
		}
		if err := s.ensureWritable(ctx, e.id, &e.st); err != nil {
			for _, c := range pending {
				settle(c, WriteResult{}, classify(err))
			}
			return
		}
		if attempt > 0 {
			// A conditional commit lost a race: commit under locks instead.
			pending = s.commitInTransaction(ctx, e, pending, &attempts, settle)
			continue
		}
		plan := newShardPlan(e.id, &e.st)
		var planned []*call
		for _, c := range pending {
			if err := plan.add(c.delta); err != nil {
				settle(c, WriteResult{}, err)
				continue
			}
			planned = append(planned, c)
		}
		pending = planned
		if len(pending) == 0 {
			return
		}
		name := newAttempt()
		attempts = append(attempts, name)
		wb := s.client.Batch()
		s.addWrites(wb, plan, name)
		refs := make([]*firestore.DocumentRef, 0, len(plan.refs))
		for _, ref := range plan.refs {
			refs = append(refs, ref)
		}
		var recordRefs []*firestore.DocumentRef
		keyed := map[*firestore.DocumentRef]*call{}
		for _, c := range pending {
			if c.key != "" {
				ref := s.recordRef(e.id, c.key)
				wb.Create(ref, s.recordData(c.key, c.fingerprint, name))
				recordRefs = append(recordRefs, ref)
				keyed[ref] = c
			}
		}
		if len(refs) == 0 && len(recordRefs) == 0 {
			// Only zero deltas without keys: nothing to write.
			now := s.opts.Now()
			for _, c := range pending {
				settle(c, WriteResult{CommitTime: now}, nil)
			}
			return
		}
		commitTime, times, err := commitWrites(ctx, wb, append(refs, recordRefs...))
		if err == nil {
			plan.committed(times)
			s.commits.Add(1)
			s.increments.Add(uint64(len(pending)))
			for _, c := range pending {
				settle(c, WriteResult{CommitTime: commitTime}, nil)
			}
			return
		}
		in, ierr := s.inspect(ctx, []*shardPlan{plan}, recordRefs, attempts)
		if ierr == nil && in.applied {
			// An earlier attempt of this very batch was applied; its answer was lost.
			e.st.invalidate()
			for _, c := range pending {
				settle(c, WriteResult{CommitTime: in.appliedAt}, nil)
			}
			return
		}
		if ierr != nil || !outcomeKnown(err) {
			e.st.invalidate()
			for _, c := range pending {
				settle(c, WriteResult{}, classify(err))
			}
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

// replayRecord answers a request from its stored record.
func replayRecord(d *firestore.DocumentSnapshot, key, fingerprint string) (WriteResult, error) {
	r, err := recordOf(d)
	if err != nil {
		return WriteResult{}, err
	}
	return r.replay(key, fingerprint)
}
