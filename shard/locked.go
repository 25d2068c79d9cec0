package shard

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The locked path commits requests inside a read-write transaction that reads, and so locks, the
// counters' metadata, the requests' records and every shard of the counters. It is taken when a
// conditional commit lost a race for a shard (several servers on one hot counter with few shards:
// locks serialize the writers instead of letting them invalidate each other), and for what the
// fast path refuses: a total near the int64 bounds, or a counter in exact mode.
//
// Knowing every shard's exact value, it checks each request against the exact total, so an
// increment that would take a total outside int64 fails with ErrOutOfRange and applies nothing.
// It places the deltas within the per-shard bounds when it can; otherwise it spreads the new
// total evenly over every shard, entering or leaving exact mode (bounds.go).
//
// A run of the transaction's closure first looks for its commitment's earlier attempts in what it
// read: when a commit was applied but answered with an error (ABORTED makes RunTransaction run
// the closure again), nothing is applied twice.

// lockedCounter is one counter as read, and changed, inside one run of the closure.
type lockedCounter struct {
	e       *entry
	exists  bool
	cfg     config
	values  []int64 // exact shard values; a missing or stale shard reads as 0
	times   []time.Time
	rewrite bool     // some shard is missing or stale: write every shard
	total   *big.Int // the total with the deltas accepted so far
	deltas  []int64  // the accepted deltas, in order
	touched bool     // an accepted request has a part here (even of 0)
	// What the run writes: the new values of the shards written, and whether the metadata
	// changes (creation, exact mode).
	written     map[int]int64
	metaChanged bool
}

// lockedRun is what one run of the closure decided.
type lockedRun struct {
	// appliedBy names an earlier run found applied, at appliedAt: this run decided nothing else.
	appliedBy   string
	appliedAt   time.Time
	createdGens []string // the generations of the counters this run creates
	counters    []*lockedCounter
	replays     map[*group]*firestore.DocumentSnapshot
	rejected    map[*group]error
	accepted    map[*group]bool
	writes      []*firestore.DocumentRef // what the run writes, to read back after a failure
}

// commitLocked commits groups in a transaction, answers every group it can and returns the groups
// to try again.
func (c *commitment) commitLocked(ctx context.Context, groups []*group) (rest []*group) {
	s := c.s
	var run *lockedRun // the last run of the closure
	runs := map[string]*lockedRun{}
	m := newMarks() // of the runs so far
	sent := false   // a run's commit was sent: it may have been applied
	var resp firestore.CommitResponse
	ctx, span := s.ins.start(ctx, spanCommitLocked)
	defer func() {
		if span != nil {
			span.SetAttributes(attrOutcome.String(c.last.String()))
			span.End()
		}
	}()
	began := time.Now()
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		name := newAttempt()
		var err error
		run, err = c.runLocked(tx, groups, name, m)
		if run != nil {
			runs[name] = run
			m.attempts[name] = true
			for _, gen := range run.createdGens {
				m.gens[gen] = name
			}
		}
		sent = sent || err == nil
		return err
	}, firestore.WithCommitResponseTo(&resp))
	took := time.Since(began)
	if !sent {
		took = -1 // no run got as far as committing: nothing to time
	}
	if run != nil && run.appliedBy != "" {
		// An earlier run was applied, its answer lost; this run wrote nothing.
		c.attempted(ctx, outcomeFallback, took)
		c.noteLocked(runs[run.appliedBy])
		c.invalidate()
		return c.settleLocked(groups, runs[run.appliedBy], run.appliedAt)
	}
	if err == nil {
		c.attempted(ctx, outcomeFallback, took)
		c.noteLocked(run)
		c.cacheLocked(run, resp.CommitTime())
		return c.settleLocked(groups, run, resp.CommitTime())
	}
	// Any run's commit may have been applied with its answer lost; the next run would have
	// recognised it, but there was none, or it failed before reading.
	c.invalidate()
	var writes []*firestore.DocumentRef
	seen := map[string]bool{}
	for _, r := range runs {
		for _, ref := range r.writes {
			if !seen[ref.Path] {
				seen[ref.Path] = true
				writes = append(writes, ref)
			}
		}
	}
	if sent && len(writes) > 0 {
		snaps, ierr := c.readBack(ctx, writes)
		if ierr != nil {
			c.attempted(ctx, outcomeUnknown, took)
			c.failed(ctx, groups, unknownOutcome(fmt.Errorf("%v (and reading back: %v)", err, ierr)))
			return nil
		}
		if at, name := m.find(snaps); !at.IsZero() {
			c.attempted(ctx, outcomeFallback, took)
			c.noteLocked(runs[name])
			return c.settleLocked(groups, runs[name], at)
		}
	}
	switch {
	case sent && !outcomeKnown(err):
		c.attempted(ctx, outcomeUnknown, took)
		c.failed(ctx, groups, unknownOutcome(err))
		return nil
	case sent && status.Code(err) == codes.InvalidArgument && !transactionExpired(err):
		c.attempted(ctx, outcomeFailed, took)
		c.failed(ctx, groups, tooLarge(err))
		return nil
	}
	// Nothing was sent, or Firestore said it applied nothing.
	c.attempted(ctx, outcomeFailed, took)
	c.failed(ctx, groups, classifyUnapplied(err))
	return nil
}

// runLocked is one run of the transaction's closure.
// earlier are the marks of the commit's earlier runs: if one of them was applied, the run only
// says so (appliedBy) and writes nothing.
func (c *commitment) runLocked(tx *firestore.Transaction, groups []*group, attempt string, earlier marks) (*lockedRun, error) {
	s := c.s
	run := &lockedRun{replays: map[*group]*firestore.DocumentSnapshot{}, rejected: map[*group]error{}, accepted: map[*group]bool{}}
	metaRefs := make([]*firestore.DocumentRef, len(c.entries))
	for i, e := range c.entries {
		metaRefs[i] = s.metaRef(e.id)
	}
	metas, err := tx.GetAll(metaRefs)
	if err != nil {
		return nil, err
	}
	counters := map[*entry]*lockedCounter{}
	var shardRefs []*firestore.DocumentRef
	for i, e := range c.entries {
		lc := &lockedCounter{e: e, total: new(big.Int), written: map[int]int64{}}
		if metas[i].Exists() {
			if lc.cfg, err = configOf(metas[i]); err != nil {
				return nil, err
			}
			lc.exists = true
			shardRefs = append(shardRefs, s.shardRefs(e.id, 0, lc.cfg.shardCount)...)
		}
		counters[e] = lc
		run.counters = append(run.counters, lc)
	}
	var recordRefs []*firestore.DocumentRef
	for _, g := range groups {
		if r := g.leader().record; r != nil {
			recordRefs = append(recordRefs, r)
		}
	}
	records, err := getAll(tx, recordRefs)
	if err != nil {
		return nil, err
	}
	shards, err := getAll(tx, shardRefs)
	if err != nil {
		return nil, err
	}
	if at, name := earlier.find(slices.Concat(metas, records, shards)); !at.IsZero() {
		run.appliedBy, run.appliedAt = name, at
		return run, nil
	}

	i := 0
	for _, lc := range run.counters {
		if !lc.exists {
			continue
		}
		if err := lc.decode(shards[i : i+lc.cfg.shardCount]); err != nil {
			return nil, err
		}
		i += lc.cfg.shardCount
	}
	byPath := map[string]*firestore.DocumentSnapshot{}
	for _, d := range records {
		if d.Exists() {
			byPath[d.Ref.Path] = d
		}
	}
	for _, g := range groups {
		l := g.leader()
		if l.record != nil && byPath[l.record.Path] != nil {
			run.replays[g] = byPath[l.record.Path]
			continue
		}
		if err := accept(l, counters); err != nil {
			run.rejected[g] = err
			continue
		}
		run.accepted[g] = true
	}
	for _, lc := range run.counters {
		if lc.touched {
			if err := c.writeLocked(tx, lc, attempt, run); err != nil {
				return nil, err
			}
		}
	}
	for _, g := range groups {
		if l := g.leader(); run.accepted[g] && l.record != nil {
			if err := tx.Create(l.record, s.recordData(l.key, l.fingerprint, attempt)); err != nil {
				return nil, err
			}
			run.writes = append(run.writes, l.record)
		}
	}
	return run, nil
}

// getAll is tx.GetAll that accepts no references.
func getAll(tx *firestore.Transaction, refs []*firestore.DocumentRef) ([]*firestore.DocumentSnapshot, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	return tx.GetAll(refs)
}

// decode reads the counter's shard documents 0..shard_count-1.
func (lc *lockedCounter) decode(snaps []*firestore.DocumentSnapshot) error {
	lc.values = make([]int64, len(snaps))
	lc.times = make([]time.Time, len(snaps))
	for n, d := range snaps {
		shards, complete, err := shardsOf([]*firestore.DocumentSnapshot{d}, lc.cfg.generation)
		if err != nil {
			return err
		}
		if !complete {
			lc.rewrite = true
			continue
		}
		lc.values[n], lc.times[n] = shards[0].value, shards[0].updateTime
	}
	lc.total = total(lc.values)
	return nil
}

// accept adds the request's deltas to its counters' totals if every one of them stays within
// int64; otherwise it changes nothing and returns ErrOutOfRange.
func accept(r *request, counters map[*entry]*lockedCounter) error {
	var t big.Int
	for _, pt := range r.parts {
		t.Add(counters[pt.e].total, big.NewInt(pt.delta))
		if !t.IsInt64() {
			return fmt.Errorf("adding %d to counter %q would take its total outside int64: %w", pt.delta, pt.e.id, ErrOutOfRange)
		}
	}
	for _, pt := range r.parts {
		lc := counters[pt.e]
		lc.total.Add(lc.total, big.NewInt(pt.delta))
		lc.deltas = append(lc.deltas, pt.delta)
		lc.touched = true
	}
	return nil
}

// writeLocked writes one counter's accepted deltas inside tx: it creates the counter if it does
// not exist, places the deltas within the per-shard bounds if it can, and otherwise spreads the
// new total over every shard.
func (c *commitment) writeLocked(tx *firestore.Transaction, lc *lockedCounter, attempt string, run *lockedRun) error {
	s := c.s
	id, t := lc.e.id, lc.total.Int64()
	if !lc.exists {
		cfg := config{generation: newGeneration(), shardCount: s.opts.DefaultShards}
		run.createdGens = append(run.createdGens, cfg.generation)
		shares, ok := evenSplit(t, cfg.shardCount)
		cfg.exact = !ok
		lc.cfg, lc.metaChanged = cfg, true
		if err := tx.Create(s.metaRef(id), s.newConfigData(id, cfg)); err != nil {
			return err
		}
		run.writes = append(run.writes, s.metaRef(id))
		return c.setShards(tx, lc, shares, attempt, run)
	}
	if !lc.cfg.exact && !lc.rewrite {
		versions := make([]shardVersion, len(lc.values))
		for n, v := range lc.values {
			versions[n] = shardVersion{value: v}
		}
		st := newState(time.Time{}, lc.cfg, versions)
		planned := map[int]int64{}
		placedAll := st.fast
		for _, d := range lc.deltas {
			n, ok := st.place(d, planned, nil)
			if !ok {
				placedAll = false
				break
			}
			planned[n] += d
		}
		if placedAll {
			values := slices.Clone(lc.values)
			for n, sum := range planned {
				values[n] += sum
			}
			return c.setShards(tx, lc, values, attempt, run, slices.Sorted(maps.Keys(planned))...)
		}
	}
	shares, ok := evenSplit(t, lc.cfg.shardCount)
	if lc.cfg.exact != !ok {
		lc.cfg.exact, lc.metaChanged = !ok, true
		if err := tx.Update(s.metaRef(id), []firestore.Update{exactUpdate(!ok)}); err != nil {
			return err
		}
		run.writes = append(run.writes, s.metaRef(id))
	}
	return c.setShards(tx, lc, shares, attempt, run)
}

// setShards writes the given shards (all if none is named) with their values from values.
func (c *commitment) setShards(tx *firestore.Transaction, lc *lockedCounter, values []int64, attempt string, run *lockedRun, only ...int) error {
	if len(only) == 0 {
		only = make([]int, len(values))
		for n := range only {
			only[n] = n
		}
	}
	for _, n := range only {
		ref := c.s.shardRef(lc.e.id, n)
		if err := tx.Set(ref, shardData(values[n], lc.cfg.generation, attempt)); err != nil {
			return err
		}
		lc.written[n] = values[n]
		run.writes = append(run.writes, ref)
	}
	return nil
}

// cacheLocked records a committed locked run in the cache: the run read every shard, so it knows
// the counter's exact state at the commit time.
func (c *commitment) cacheLocked(run *lockedRun, commitTime time.Time) {
	now := c.s.opts.Now()
	for _, lc := range run.counters {
		lc.e.stateMu.Lock()
		if lc.exists && !lc.metaChanged && !lc.rewrite {
			shards := make([]shardVersion, len(lc.values))
			for n := range shards {
				shards[n] = shardVersion{value: lc.values[n], updateTime: lc.times[n]}
				if v, ok := lc.written[n]; ok {
					shards[n] = shardVersion{value: v, updateTime: commitTime}
				}
			}
			lc.e.st = newState(now, lc.cfg, shards)
			c.s.track(lc.e, lc.cfg.adaptive)
		} else {
			lc.e.st.invalidate()
		}
		lc.e.stateMu.Unlock()
	}
}

// settleLocked answers the groups as run decided, with t the commit time, and returns the groups
// to try again.
func (c *commitment) settleLocked(groups []*group, run *lockedRun, t time.Time) (rest []*group) {
	applied := 0
	for _, g := range groups {
		switch {
		case run.replays[g] != nil:
			g.replayed(run.replays[g])
		case run.rejected[g] != nil:
			if r := g.rejected(run.rejected[g]); r != nil {
				rest = append(rest, r)
			}
		case run.accepted[g]:
			g.applied(t)
			applied += len(g.members)
		}
	}
	if applied > 0 {
		c.s.commits.Add(1)
		c.s.increments.Add(uint64(applied))
	}
	return rest
}
