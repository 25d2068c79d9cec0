package shard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// config is a counter's metadata as last read.
type config struct {
	exists     bool
	generation string
	shardCount int
	// exact: the total is too close to the int64 bounds for the per-shard bounds (bounds.go),
	// so every write reads all shards in a transaction.
	exact bool
	// adaptive: the servers grow and shrink the shard count with the load (adaptive.go).
	adaptive   bool
	createTime time.Time
	updateTime time.Time
}

// shardVersion is what the store knows of one shard document: every fast write to a shard is
// conditional on this update time, so the store always knows the exact value it adds to.
type shardVersion struct {
	value      int64
	updateTime time.Time
}

// counterState is the cached knowledge of one counter, read in one consistent snapshot and kept
// current by this server's own commits. Guarded by the owning entry's stateMu.
//
// Why a stale cache cannot lose a count: shard documents exist exactly for 0..shard_count-1 from
// the moment the counter is created, and increments never create one; they update a shard
// conditional on its update time. Every change of configuration made anywhere (delete, create,
// reset, resize, exact mode) rewrites or deletes every shard document in the same commit. So a
// fast write succeeds only if this server's view of that shard, and hence of the configuration
// it was read with, is still current.
type counterState struct {
	loaded   bool
	loadedAt time.Time
	config
	shards []shardVersion // by index, len shardCount; nil if the counter does not exist
	// fast: not exact and every shard within the per-shard bounds, so the fast path may write.
	fast bool
}

func (st *counterState) invalidate() { st.loaded = false }

// newState makes the state of a counter from its metadata and shards read in one snapshot.
func newState(now time.Time, cfg config, shards []shardVersion) counterState {
	st := counterState{loaded: true, loadedAt: now, config: cfg, shards: shards, fast: !cfg.exact}
	for _, v := range shards {
		st.fast = st.fast && withinBounds(v.value, cfg.shardCount)
	}
	return st
}

// creation is the state a counter created by the next commit will have.
func (s *Counters) creation() counterState {
	cfg := config{generation: newGeneration(), shardCount: s.opts.DefaultShards}
	return newState(s.opts.Now(), cfg, make([]shardVersion, cfg.shardCount))
}

// ensureLoaded brings e.st up to date for planning: loaded and not older than MetadataTTL. The
// caller holds e.stateMu.
func (s *Counters) ensureLoaded(ctx context.Context, e *entry) error {
	if e.st.loaded && s.opts.Now().Sub(e.st.loadedAt) < s.opts.MetadataTTL {
		return nil
	}
	guess := s.opts.DefaultShards
	if e.st.shardCount > 0 {
		guess = e.st.shardCount
	}
	for range 3 {
		st, complete, err := s.loadState(ctx, e.id, guess)
		if err != nil {
			return err
		}
		if complete {
			e.st = st
			s.track(e, st.exists && st.adaptive)
			return nil
		}
		// Written by an earlier version of tally, which created shards lazily.
		if err := s.repair(ctx, e.id); err != nil {
			return err
		}
		guess = st.shardCount
	}
	return fmt.Errorf("the shards of counter %q keep changing while it is loaded: %w", e.id, ErrContention)
}

// loadState reads a counter's metadata and shards in one read-only transaction, so they agree.
// complete is false if a shard below shard_count is missing or of another generation, which
// repair fixes. guess is how many shards to read together with the metadata.
func (s *Counters) loadState(ctx context.Context, id string, guess int) (st counterState, complete bool, err error) {
	err = s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		refs := append([]*firestore.DocumentRef{s.metaRef(id)}, s.shardRefs(id, 0, guess)...)
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		if !snaps[0].Exists() {
			st, complete = counterState{loaded: true, loadedAt: s.opts.Now()}, true
			return nil
		}
		cfg, err := configOf(snaps[0])
		if err != nil {
			return err
		}
		shardSnaps := snaps[1:]
		if cfg.shardCount > guess {
			more, err := tx.GetAll(s.shardRefs(id, guess, cfg.shardCount))
			if err != nil {
				return err
			}
			shardSnaps = append(shardSnaps, more...)
		}
		var shards []shardVersion
		shards, complete, err = shardsOf(shardSnaps[:cfg.shardCount], cfg.generation)
		if err == nil && complete {
			// Shard documents past shard_count (left by an earlier version of tally) would
			// count in the value without this server seeing them.
			var n int64
			if n, err = s.countShards(ctx, tx, id); err == nil && n != int64(cfg.shardCount) {
				complete = false
			}
		}
		if err != nil || !complete {
			st.shardCount = cfg.shardCount
			return err
		}
		st = newState(s.opts.Now(), cfg, shards)
		return nil
	}, firestore.ReadOnly)
	if err != nil {
		return st, false, fmt.Errorf("reading counter %q: %w", id, err)
	}
	return st, complete, nil
}

// countShards counts the counter's shard documents inside tx.
func (s *Counters) countShards(ctx context.Context, tx *firestore.Transaction, id string) (int64, error) {
	res, err := s.shardsRef(id).NewAggregationQuery().WithCount("n").Transaction(tx).Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("counting the shards of counter %q: %w", id, err)
	}
	n, ok := res["n"].(*pb.Value)
	if !ok {
		return 0, fmt.Errorf("counting the shards of counter %q gave %v", id, res["n"])
	}
	return n.GetIntegerValue(), nil
}

// shardsOf decodes the shard documents 0..n-1 of a counter of generation gen. complete is false
// if one is missing or of another generation.
func shardsOf(snaps []*firestore.DocumentSnapshot, gen string) (shards []shardVersion, complete bool, err error) {
	shards = make([]shardVersion, len(snaps))
	for i, d := range snaps {
		if !d.Exists() || d.Data()[fieldGeneration] != gen {
			return nil, false, nil
		}
		v, ok := d.Data()[fieldCount].(int64)
		if !ok {
			return nil, false, fmt.Errorf("shard document %s has no integer count: %v", d.Ref.Path, d.Data())
		}
		shards[i] = shardVersion{value: v, updateTime: d.UpdateTime}
	}
	return shards, true, nil
}

// repair respreads the value of a counter written by an earlier version of tally, which created
// shard documents lazily and could leave some past shard_count, over exactly the shard documents
// 0..shard_count-1 (see respread). It runs its own transaction rather than transact, because
// its caller holds the entry's stateMu.
func (s *Counters) repair(ctx context.Context, id string) error {
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(s.metaRef(id))
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
		cfg, err := configOf(snap)
		if err != nil {
			return err
		}
		shards, err := s.lockShards(ctx, tx, id, cfg)
		if err != nil {
			return err
		}
		_, _, err = s.respread(tx, id, cfg, shards, cfg.shardCount)
		return err
	})
	if err != nil {
		return fmt.Errorf("repairing the shards of counter %q: %w", id, err)
	}
	return nil
}

// configOf decodes a metadata document.
func configOf(snap *firestore.DocumentSnapshot) (config, error) {
	c := config{exists: true, createTime: snap.CreateTime, updateTime: snap.UpdateTime}
	data := snap.Data()
	n, ok := data[fieldShardCount].(int64)
	gen, ok2 := data[fieldGeneration].(string)
	if !ok || !ok2 || n < 1 || n > MaxShards || gen == "" {
		return c, fmt.Errorf("counter document %s is malformed: %v", snap.Ref.Path, data)
	}
	c.shardCount, c.generation = int(n), gen
	c.exact, _ = data[fieldExact].(bool)
	c.adaptive, _ = data[fieldAdaptive].(bool)
	return c, nil
}

func (s *Counters) newConfigData(id string, cfg config) map[string]any {
	d := map[string]any{fieldID: id, fieldShardCount: cfg.shardCount, fieldGeneration: cfg.generation}
	if cfg.exact {
		d[fieldExact] = true
	}
	if cfg.adaptive {
		d[fieldAdaptive] = true
	}
	return d
}

// adaptiveUpdate turns adaptive shard counts on or off in the metadata; the field is absent when
// off, as on a counter created without it.
func adaptiveUpdate(on bool) firestore.Update {
	if on {
		return firestore.Update{Path: fieldAdaptive, Value: true}
	}
	return firestore.Update{Path: fieldAdaptive, Value: firestore.Delete}
}

// exactUpdate sets or clears exact mode in the metadata. The field is absent outside exact mode,
// as on a new counter, so that rewriting the metadata unchanged leaves it unchanged.
func exactUpdate(exact bool) firestore.Update {
	if exact {
		return firestore.Update{Path: fieldExact, Value: true}
	}
	return firestore.Update{Path: fieldExact, Value: firestore.Delete}
}

// shardData is a whole shard document.
func shardData(count int64, gen, attempt string) map[string]any {
	d := map[string]any{fieldCount: count, fieldGeneration: gen}
	if attempt != "" {
		d[fieldAttempt] = attempt
	}
	return d
}

// place chooses the shard that takes delta on the fast path, given what the commit already adds
// (planned) and the shards other in-flight commits of this server reserved (busy): a shard the
// commit already uses if it has room, else a free shard with room, starting from a random one.
// Room means staying within the per-shard bounds. ok is false when no shard qualifies; the
// delta then needs the locked path.
func (st *counterState) place(delta int64, planned map[int]int64, busy map[int]int) (n int, ok bool) {
	if !st.fast {
		return 0, false
	}
	fits := func(n int) bool {
		v, ok := addInt64(st.shards[n].value, planned[n], delta)
		return ok && withinBounds(v, st.shardCount)
	}
	for n := range planned {
		if fits(n) {
			return n, true
		}
	}
	start := rand.IntN(st.shardCount)
	for i := range st.shardCount {
		if n := (start + i) % st.shardCount; busy[n] == 0 && fits(n) {
			return n, true
		}
	}
	return 0, false
}
