package shard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fieldAttempt names, on a shard document, the commit attempt that last wrote it. Together with
// the same field on idempotency records it lets the store tell whether a commit whose answer was
// lost has been applied.
const fieldAttempt = "attempt"

// maxAttempts bounds how often one batch is re-planned after conflicting writes.
const maxAttempts = 10

// shardPlan is what one commit adds to one counter's shards. Every shard write is conditional on
// the version in base (or on the shard not existing), so the value after the commit is exactly
// base + sum, which is how the store can refuse an overflowing increment before writing anything.
//
// A plan reserves its shards in the entry (busy) from planning until release, so that concurrent
// commits of one counter by this server never write the same shard and never conflict.
type shardPlan struct {
	e    *entry
	st   *counterState // what the plan was made against: e.st, or a transaction's own reads
	busy map[int]int   // shards to avoid: e.busy (guarded by e.stateMu), nil in transactions
	gen  string
	sums map[int]int64
	base map[int]shardVersion
	refs map[int]*firestore.DocumentRef // filled by addWrites
}

// newShardPlan starts a plan against st. The caller guards st.
func newShardPlan(e *entry, st *counterState) *shardPlan {
	return &shardPlan{e: e, st: st, busy: e.busy, gen: st.generation, sums: map[int]int64{}, base: map[int]shardVersion{}}
}

// add plans delta on the shard place chooses, avoiding shards other commits reserved. The caller
// holds e.stateMu.
func (p *shardPlan) add(delta int64) error {
	n, err := p.st.place(delta, p.sums, p.busy)
	if err != nil {
		return err
	}
	p.sums[n] += delta
	p.base[n] = p.st.shards[n]
	return nil
}

// reserve marks the plan's shards busy; release (under e.stateMu) undoes it.
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

// addWrites adds the plan's shard writes to wb. Shards whose planned sum is 0 are not written.
func (s *Store) addWrites(wb *firestore.WriteBatch, p *shardPlan, attempt string) {
	p.refs = map[int]*firestore.DocumentRef{}
	for _, n := range slices.Sorted(maps.Keys(p.sums)) {
		sum := p.sums[n]
		if sum == 0 {
			continue
		}
		ref := s.shardRef(p.e.id, n)
		p.refs[n] = ref
		switch b := p.base[n]; {
		case !b.exists:
			wb.Create(ref, map[string]any{fieldCount: firestore.Increment(sum), fieldGeneration: p.gen, fieldAttempt: attempt})
		case b.stale:
			wb.Update(ref, []firestore.Update{
				{Path: fieldCount, Value: sum},
				{Path: fieldGeneration, Value: p.gen},
				{Path: fieldAttempt, Value: attempt},
			}, firestore.LastUpdateTime(b.updateTime))
		default:
			wb.Update(ref, []firestore.Update{
				{Path: fieldCount, Value: firestore.Increment(sum)},
				{Path: fieldAttempt, Value: attempt},
			}, firestore.LastUpdateTime(b.updateTime))
		}
	}
}

// committed records a successful commit in the cache: each written shard now holds exactly
// base + sum, at the commit's update time. The caller holds e.stateMu.
func (p *shardPlan) committed(updateTimes map[*firestore.DocumentRef]time.Time) {
	st := &p.e.st
	if !st.loaded || st.generation != p.gen {
		return // the cache moved on meanwhile; it is reloaded before the next use
	}
	for n, ref := range p.refs {
		st.shards[n] = shardVersion{exists: true, value: p.base[n].value + p.sums[n], updateTime: updateTimes[ref]}
	}
}

// commitWrites commits wb and returns the commit time and each written document's update time.
func commitWrites(ctx context.Context, wb *firestore.WriteBatch, refs []*firestore.DocumentRef) (time.Time, map[*firestore.DocumentRef]time.Time, error) {
	results, err := wb.Commit(ctx)
	if err != nil {
		return time.Time{}, nil, err
	}
	times := map[*firestore.DocumentRef]time.Time{}
	var commitTime time.Time
	for i, r := range results {
		if i < len(refs) {
			times[refs[i]] = r.UpdateTime
		}
		if r.UpdateTime.After(commitTime) {
			commitTime = r.UpdateTime
		}
	}
	return commitTime, times, nil
}

// inspection is what the store learns after a failed commit.
type inspection struct {
	applied   bool      // one of the attempts was applied after all
	appliedAt time.Time // its commit time
	records   map[*firestore.DocumentRef]*firestore.DocumentSnapshot
}

// inspect reads back, in one call, the counters' metadata, the shards the last attempt wrote and
// the idempotency records, to find out whether any attempt was applied (its name is on a record
// or a shard), and refreshes each counter's cached state.
func (s *Store) inspect(ctx context.Context, plans []*shardPlan, recordRefs []*firestore.DocumentRef, attempts []string) (inspection, error) {
	var refs []*firestore.DocumentRef
	for _, p := range plans {
		refs = append(refs, s.metaRef(p.e.id))
		for _, n := range slices.Sorted(maps.Keys(p.refs)) {
			refs = append(refs, p.refs[n])
		}
	}
	refs = append(refs, recordRefs...)
	snaps, err := s.client.GetAll(ctx, refs)
	if err != nil {
		return inspection{}, err
	}
	in := inspection{records: map[*firestore.DocumentRef]*firestore.DocumentSnapshot{}}
	ours := func(d *firestore.DocumentSnapshot, when time.Time) {
		if a, ok := d.Data()[fieldAttempt].(string); ok && slices.Contains(attempts, a) {
			in.applied, in.appliedAt = true, when
		}
	}
	i := 0
	for _, p := range plans {
		meta := snaps[i]
		i++
		shards := map[int]*firestore.DocumentSnapshot{}
		for _, n := range slices.Sorted(maps.Keys(p.refs)) {
			shards[n] = snaps[i]
			i++
			if snaps[i-1].Exists() {
				ours(snaps[i-1], snaps[i-1].UpdateTime)
			}
		}
		p.e.stateMu.Lock()
		p.e.st.refresh(p.gen, meta, shards)
		p.e.stateMu.Unlock()
	}
	for _, ref := range recordRefs {
		d := snaps[i]
		i++
		if d.Exists() {
			in.records[ref] = d
			ours(d, d.CreateTime)
		}
	}
	return in, nil
}

// refresh updates the cache of a counter from documents just read: its metadata and some of its
// shards, read for a plan of generation gen. A changed configuration invalidates the cache. The
// caller guards st.
func (st *counterState) refresh(gen string, meta *firestore.DocumentSnapshot, shards map[int]*firestore.DocumentSnapshot) {
	cfg, err := configOf(meta)
	if !meta.Exists() || err != nil || !st.loaded || cfg.generation != st.generation || cfg.shardCount != st.shardCount || gen != st.generation {
		st.invalidate()
		return
	}
	for n, d := range shards {
		if !d.Exists() {
			st.shards[n] = shardVersion{}
			continue
		}
		if _, v, err := shardOf(d, gen); err == nil {
			st.shards[n] = v
		} else {
			st.invalidate()
			return
		}
	}
}

// outcomeKnown reports whether a commit that failed with err certainly applied nothing, unless a
// retry by the client library re-sent an attempt that had been applied (inspect finds that). Any
// other failure may have been applied.
func outcomeKnown(err error) bool {
	switch status.Code(err) {
	case codes.AlreadyExists, codes.FailedPrecondition, codes.NotFound, codes.Aborted, codes.InvalidArgument, codes.OutOfRange:
		return true
	}
	return false
}

// classify turns a Firestore failure into the store's error kinds.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrInvalidArgument, ErrNotFound, ErrAlreadyExists, ErrKeyReused, ErrOutOfRange,
		ErrOverloaded, ErrContention, ErrUnknownOutcome, ErrClosed, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, known) {
			return err
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal, codes.ResourceExhausted:
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	case codes.Aborted:
		return fmt.Errorf("%w: %v", ErrContention, err)
	}
	return err
}
