package shard

import (
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
)

// shardPlan is what one fast commit adds to one counter's shards. Every shard write is an
// increment conditional on the shard's update time in base, so after the commit the shard holds
// exactly base + sum; a plan for a counter that does not exist yet creates it, metadata and every
// shard, in the same commit.
//
// A plan reserves its shards in the entry (busy) from planning until release, so that concurrent
// commits of one counter by this server never write the same shard and never conflict.
type shardPlan struct {
	e      *entry
	st     *counterState // what the plan is made against: e.st, or the state the commit creates
	cfg    config        // st's configuration when planning began (st may change after)
	create bool
	sums   map[int]int64
	uses   map[int]int // deltas planned on each shard
	base   map[int]shardVersion
	refs   []*firestore.DocumentRef // the documents addWrites writes, in order
}

// newShardPlan starts a plan for e's counter. The caller holds e.stateMu.
func (s *Counters) newShardPlan(e *entry) *shardPlan {
	p := &shardPlan{e: e, st: &e.st, sums: map[int]int64{}, uses: map[int]int{}, base: map[int]shardVersion{}}
	if !e.st.exists {
		creation := s.creation()
		p.st, p.create = &creation, true
	}
	p.cfg = p.st.config
	return p
}

// add plans delta on the shard place chooses, avoiding shards other commits reserved; ok is
// false if the fast path cannot take it. The caller holds e.stateMu.
func (p *shardPlan) add(delta int64) (n int, ok bool) {
	n, ok = p.st.place(delta, p.sums, p.e.busy)
	if ok {
		p.sums[n] += delta
		p.uses[n]++
		p.base[n] = p.st.shards[n]
	}
	return n, ok
}

// undo takes back an add whose request could not be planned whole.
func (p *shardPlan) undo(n int, delta int64) {
	p.sums[n] -= delta
	if p.uses[n]--; p.uses[n] == 0 {
		delete(p.sums, n)
		delete(p.uses, n)
	}
}

func (p *shardPlan) empty() bool { return len(p.sums) == 0 }

// reserve marks the plan's shards busy; release undoes it. The caller holds e.stateMu.
func (p *shardPlan) reserve() {
	for n := range p.sums {
		p.e.busy[n]++
	}
}

func (p *shardPlan) release() {
	for n := range p.sums {
		if p.e.busy[n]--; p.e.busy[n] <= 0 {
			delete(p.e.busy, n)
		}
	}
}

// addWrites adds the plan's writes to wb. Every planned shard is written, even with a sum of 0:
// the write carries the precondition that proves the counter still is what this server thinks.
func (s *Counters) addWrites(wb *firestore.WriteBatch, p *shardPlan, attempt string) {
	id, gen := p.e.id, p.cfg.generation
	p.refs = p.refs[:0]
	if p.create {
		meta := s.metaRef(id)
		wb.Create(meta, s.newConfigData(id, p.cfg))
		p.refs = append(p.refs, meta)
		// Set, not Create: documents left by an earlier version of tally for a deleted
		// incarnation are overwritten; the metadata's precondition makes the commit safe.
		for n := range p.cfg.shardCount {
			ref := s.shardRef(id, n)
			wb.Set(ref, shardData(p.sums[n], gen, attempt))
			p.refs = append(p.refs, ref)
		}
		return
	}
	for _, n := range slices.Sorted(maps.Keys(p.sums)) {
		ref := s.shardRef(id, n)
		wb.Update(ref, []firestore.Update{
			{Path: fieldCount, Value: firestore.Increment(p.sums[n])},
			{Path: fieldAttempt, Value: attempt},
		}, firestore.LastUpdateTime(p.base[n].updateTime))
		p.refs = append(p.refs, ref)
	}
}

// writtenShards are the shard documents the plan writes (addWrites must have run).
func (p *shardPlan) writtenShards() []*firestore.DocumentRef {
	if p.create {
		return p.refs[1:]
	}
	return p.refs
}

// committed records a successful commit in the cache: each written shard now holds exactly
// base + sum, at the commit's update time. The caller holds e.stateMu.
func (p *shardPlan) committed(updateTimes map[*firestore.DocumentRef]time.Time, now time.Time) {
	st := &p.e.st
	if p.create {
		if st.loaded && st.exists {
			return // loaded meanwhile, with what this commit created or what followed it
		}
		created := updateTimes[p.refs[0]]
		cfg := p.cfg
		cfg.exists, cfg.createTime, cfg.updateTime = true, created, created
		shards := make([]shardVersion, cfg.shardCount)
		for n := range shards {
			shards[n] = shardVersion{value: p.sums[n], updateTime: updateTimes[p.refs[n+1]]}
		}
		*st = newState(now, cfg, shards)
		return
	}
	if !st.loaded || st.generation != p.cfg.generation || st.shardCount != p.cfg.shardCount {
		return // the cache moved on meanwhile; it is reloaded before the next use
	}
	for i, n := range slices.Sorted(maps.Keys(p.sums)) {
		st.shards[n] = shardVersion{value: p.base[n].value + p.sums[n], updateTime: updateTimes[p.refs[i]]}
	}
}
