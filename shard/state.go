package shard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// config is a counter's metadata as last read.
type config struct {
	exists     bool
	generation string
	shardCount int
	createTime time.Time
	updateTime time.Time
}

// shardVersion is what the store knows of one shard document: every write to a shard is
// conditional on this version, so the store always knows the exact value it adds to.
type shardVersion struct {
	exists bool
	// stale: the document belongs to an earlier generation of the counter. It counts as 0 (value
	// is 0) and its next write replaces it.
	stale      bool
	value      int64
	updateTime time.Time
}

// counterState is the cached knowledge of one counter. Guarded by the owning entry's mu.
type counterState struct {
	loaded   bool
	loadedAt time.Time
	config
	shards map[int]shardVersion // every shard document of the counter, by index
}

func (st *counterState) invalidate() { st.loaded = false }

// loadState reads a counter's metadata and all its shard documents. A missing counter is loaded
// as !exists.
func (s *Store) loadState(ctx context.Context, id string) (counterState, error) {
	st := counterState{loaded: true, loadedAt: s.opts.Now(), shards: map[int]shardVersion{}}
	snap, err := s.metaRef(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading counter %q: %w", id, err)
	}
	if st.config, err = configOf(snap); err != nil {
		return st, err
	}
	docs, err := s.shardsRef(id).Documents(ctx).GetAll()
	if err != nil {
		return st, fmt.Errorf("reading the shards of counter %q: %w", id, err)
	}
	for _, d := range docs {
		n, v, err := shardOf(d, st.generation)
		if err != nil {
			return st, err
		}
		st.shards[n] = v
	}
	return st, nil
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
	return c, nil
}

// shardOf decodes a shard document of a counter whose current generation is gen.
func shardOf(d *firestore.DocumentSnapshot, gen string) (int, shardVersion, error) {
	n, err := shardIndex(d.Ref.ID)
	if err != nil {
		return 0, shardVersion{}, err
	}
	data := d.Data()
	if data[fieldGeneration] != gen {
		return n, shardVersion{exists: true, stale: true, updateTime: d.UpdateTime}, nil
	}
	v, ok := data[fieldCount].(int64)
	if !ok {
		return 0, shardVersion{}, fmt.Errorf("shard document %s has no integer count: %v", d.Ref.Path, data)
	}
	return n, shardVersion{exists: true, value: v, updateTime: d.UpdateTime}, nil
}

// createImplicitly creates the metadata of a counter that an increment names for the first time.
// If another request created it meanwhile, that counter is used.
func (s *Store) createImplicitly(ctx context.Context, id string) error {
	_, err := s.metaRef(id).Create(ctx, s.newConfigData(id, s.opts.DefaultShards))
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("creating counter %q: %w", id, err)
	}
	return nil
}

func (s *Store) newConfigData(id string, shards int) map[string]any {
	return map[string]any{fieldID: id, fieldShardCount: shards, fieldGeneration: newGeneration()}
}

// ensureWritable brings st up to date for writing: loaded, not older than MetadataTTL, and the
// counter existing (created with the default shard count if need be).
func (s *Store) ensureWritable(ctx context.Context, id string, st *counterState) error {
	if st.loaded && st.exists && s.opts.Now().Sub(st.loadedAt) < s.opts.MetadataTTL {
		return nil
	}
	for range 3 {
		fresh, err := s.loadState(ctx, id)
		if err != nil {
			return err
		}
		*st = fresh
		if st.exists {
			return nil
		}
		if err := s.createImplicitly(ctx, id); err != nil {
			return err
		}
	}
	return fmt.Errorf("counter %q was deleted again each time it was created: %w", id, ErrContention)
}

// place chooses the shard that takes delta, given what the batch already adds (planned) and the
// shards other in-flight commits reserved (busy). A batch goes to one shard: a shard the batch
// already uses if it has room, else a random free shard with room, else (values near the int64
// bounds) the shard with the most room in delta's direction, free ones first. It fails with
// ErrOutOfRange when no shard can take delta without passing the int64 bounds.
func (st *counterState) place(delta int64, planned map[int]int64, busy map[int]int) (int, error) {
	fits := func(n int) bool {
		_, ok := addInt64(st.shards[n].value, planned[n], delta)
		return ok
	}
	for n := range planned {
		if n < st.shardCount && fits(n) {
			return n, nil
		}
	}
	// A random start, then a scan, finds a random free shard without allocating.
	start := rand.IntN(st.shardCount)
	for i := range st.shardCount {
		if n := (start + i) % st.shardCount; busy[n] == 0 {
			if fits(n) {
				return n, nil
			}
			break
		}
	}
	best, bestRoom, bestBusy := -1, uint64(0), true
	for n := range st.shardCount {
		cur, ok := addInt64(st.shards[n].value, planned[n], 0)
		if !ok || !fits(n) {
			continue
		}
		isBusy := busy[n] > 0
		room := roomFor(cur, delta)
		if best < 0 || (bestBusy && !isBusy) || (bestBusy == isBusy && room > bestRoom) {
			best, bestRoom, bestBusy = n, room, isBusy
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("no shard can absorb %d: %w", delta, ErrOutOfRange)
	}
	return best, nil
}

// roomFor is how far cur can move in delta's direction before passing the int64 bounds. The
// distance can exceed MaxInt64 (from -1 up to MaxInt64 is 2^63), hence uint64; the modular
// subtraction is exact because the true distance is below 2^64.
func roomFor(cur, delta int64) uint64 {
	if delta >= 0 {
		return uint64(math.MaxInt64) - uint64(cur)
	}
	minInt := int64(math.MinInt64)
	return uint64(cur) - uint64(minInt)
}

// addInt64 returns a+b+c and whether it fits in int64 (intermediate sums included).
func addInt64(a, b, c int64) (int64, bool) {
	s1 := a + b
	if (b > 0 && s1 < a) || (b < 0 && s1 > a) {
		return 0, false
	}
	s2 := s1 + c
	if (c > 0 && s2 < s1) || (c < 0 && s2 > s1) {
		return 0, false
	}
	return s2, true
}
