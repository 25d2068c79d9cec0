package shard

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Create creates a counter with value 0 and the given shard count (0 = the default).
func (s *Store) Create(ctx context.Context, id string, shards int) (*Counter, error) {
	if err := checkID("counter_id", id); err != nil {
		return nil, err
	}
	n, err := s.shardCount("counter.shard_count", shards)
	if err != nil {
		return nil, err
	}
	data := s.newConfigData(id, n)
	wr, err := s.metaRef(id).Create(ctx, data)
	s.forget(id)
	if status.Code(err) == codes.AlreadyExists {
		// If the answer to this very create was lost, the client library re-sent it and got
		// ALREADY_EXISTS: the fresh generation id tells whether the counter is ours.
		snap, gerr := s.metaRef(id).Get(ctx)
		if gerr == nil && snap.Data()[fieldGeneration] == data[fieldGeneration] {
			t := snap.CreateTime
			return &Counter{ID: id, ShardCount: n, CreateTime: t, UpdateTime: t, ReadTime: t}, nil
		}
		return nil, fmt.Errorf("counter %q: %w", id, ErrAlreadyExists)
	}
	if err != nil {
		return nil, classify(err)
	}
	t := wr.UpdateTime
	return &Counter{ID: id, ShardCount: n, CreateTime: t, UpdateTime: t, ReadTime: t}, nil
}

func (s *Store) shardCount(field string, n int) (int, error) {
	if err := ValidateShards(n); err != nil {
		return 0, invalid(field, err.Error())
	}
	if n == 0 {
		return s.opts.DefaultShards, nil
	}
	return n, nil
}

// Resize changes a counter's shard count (0 = the default) without changing its value. Growing
// only records the new count; shrinking folds every shard past the new count into the kept ones,
// in one transaction, so the value never changes or double-counts while increments go on.
func (s *Store) Resize(ctx context.Context, id string, shards int) (*Counter, error) {
	if err := checkID("counter.name", id); err != nil {
		return nil, err
	}
	n, err := s.shardCount("counter.shard_count", shards)
	if err != nil {
		return nil, err
	}
	var out *Counter
	commitTime, err := s.transact(ctx, id, func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
		values := map[int]int64{}
		var total int64
		for i, d := range shards {
			_, v, err := shardOf(d, cfg.generation)
			if err != nil {
				return err
			}
			values[i] = v.value
			var ok bool
			if total, ok = addInt64(total, v.value, 0); !ok {
				return fmt.Errorf("the total of counter %q does not fit in int64: %w", id, ErrOutOfRange)
			}
		}
		changed, err := fold(values, n)
		if err != nil {
			return fmt.Errorf("counter %q: %w", id, err)
		}
		for _, i := range changed {
			tx.Set(s.shardRef(id, i), map[string]any{fieldCount: values[i], fieldGeneration: cfg.generation})
		}
		for i := range shards {
			if i >= n {
				tx.Delete(shards[i].Ref)
			}
		}
		if err := tx.Update(s.metaRef(id), []firestore.Update{{Path: fieldShardCount, Value: n}}); err != nil {
			return err
		}
		out = counterOf(id, cfg)
		out.ShardCount, out.Value = n, total
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.UpdateTime, out.ReadTime = commitTime, commitTime
	return out, nil
}

// fold moves the values of shards at index n and above into shards below n, each onto the kept
// shard with the most room in its direction, and returns the kept shards it changed. It fails
// with ErrOutOfRange if some value fits nowhere.
func fold(values map[int]int64, n int) ([]int, error) {
	var changed []int
	for _, i := range slices.Sorted(maps.Keys(values)) {
		v := values[i]
		if i < n || v == 0 {
			continue
		}
		best, bestRoom := -1, uint64(0)
		for k := range n {
			if _, ok := addInt64(values[k], v, 0); ok {
				if room := roomFor(values[k], v); best < 0 || room > bestRoom {
					best, bestRoom = k, room
				}
			}
		}
		if best < 0 {
			return nil, fmt.Errorf("shard %d's value %d fits in no kept shard: %w", i, v, ErrOutOfRange)
		}
		values[best] += v
		values[i] = 0
		if !slices.Contains(changed, best) {
			changed = append(changed, best)
		}
	}
	return changed, nil
}

// Reset sets a counter back to 0 by deleting its shards. With a key it applies at most once per
// (counter, key), so a retried reset cannot wipe increments made after the first one.
func (s *Store) Reset(ctx context.Context, id string, key string) (WriteResult, error) {
	if err := checkID("name", id); err != nil {
		return WriteResult{}, err
	}
	if err := checkKey("idempotency_key", key); err != nil {
		return WriteResult{}, err
	}
	var replayed *WriteResult
	commitTime, err := s.transactWithPrelude(ctx, id,
		func(tx *firestore.Transaction) error {
			replayed = nil
			if key == "" {
				return nil
			}
			d, err := tx.Get(s.recordRef(id, key))
			if status.Code(err) == codes.NotFound {
				return nil
			}
			if err != nil {
				return err
			}
			r, err := replayRecord(d, key, resetFingerprint())
			replayed = &r
			return err
		},
		func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
			if replayed != nil {
				return nil
			}
			for _, d := range shards {
				tx.Delete(d.Ref)
			}
			if err := tx.Update(s.metaRef(id), []firestore.Update{{Path: fieldResetTime, Value: firestore.ServerTimestamp}}); err != nil {
				return err
			}
			if key != "" {
				return tx.Create(s.recordRef(id, key), s.recordData(key, resetFingerprint(), newAttempt()))
			}
			return nil
		})
	if err != nil {
		return WriteResult{}, err
	}
	if replayed != nil {
		return *replayed, nil
	}
	return WriteResult{CommitTime: commitTime}, nil
}

// Delete deletes a counter and its shards. Its idempotency records expire on their own.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := checkID("name", id); err != nil {
		return err
	}
	_, err := s.transact(ctx, id, func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
		for _, d := range shards {
			tx.Delete(d.Ref)
		}
		return tx.Delete(s.metaRef(id))
	})
	return err
}

// transact runs change in a read-write transaction, after reading the counter's configuration
// and locking all its shards, and returns the commit time. It fails with ErrNotFound when the
// counter does not exist.
func (s *Store) transact(ctx context.Context, id string, change func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error) (time.Time, error) {
	return s.transactWithPrelude(ctx, id, nil, change)
}

// transactWithPrelude is transact with extra reads (prelude) before the shards are read.
func (s *Store) transactWithPrelude(ctx context.Context, id string, prelude func(tx *firestore.Transaction) error,
	change func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error) (time.Time, error) {
	if err := s.begin(); err != nil {
		return time.Time{}, err
	}
	defer s.lanes.Done()
	var resp firestore.CommitResponse
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(s.metaRef(id))
		if status.Code(err) == codes.NotFound {
			return fmt.Errorf("counter %q: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		cfg, err := configOf(snap)
		if err != nil {
			return err
		}
		if prelude != nil {
			if err := prelude(tx); err != nil {
				return err
			}
		}
		shards, err := s.lockShards(ctx, tx, id, cfg)
		if err != nil {
			return err
		}
		return change(tx, cfg, shards)
	}, firestore.WithCommitResponseTo(&resp))
	// Whatever happened, this server's view of the counter may be out of date now.
	s.forget(id)
	if err != nil {
		return time.Time{}, classify(err)
	}
	return resp.CommitTime(), nil
}

// lockShards reads every shard document of the counter inside tx, through
// document reads, which lock the documents (production and the emulator both): increments to
// them then wait for the transaction instead of aborting it. The shards 0..shard_count-1 are
// read first; a query then finds any others (written by a server that missed a shrink), which
// are read the same way.
func (s *Store) lockShards(ctx context.Context, tx *firestore.Transaction, id string, cfg config) (map[int]*firestore.DocumentSnapshot, error) {
	refs := make([]*firestore.DocumentRef, cfg.shardCount)
	for i := range refs {
		refs[i] = s.shardRef(id, i)
	}
	snaps, err := tx.GetAll(refs)
	if err != nil {
		return nil, err
	}
	shards := map[int]*firestore.DocumentSnapshot{}
	for i, d := range snaps {
		if d.Exists() {
			shards[i] = d
		}
	}
	all, err := tx.Documents(s.shardsRef(id)).GetAll()
	if err != nil {
		return nil, err
	}
	var extra []*firestore.DocumentRef
	for _, d := range all {
		n, err := shardIndex(d.Ref.ID)
		if err != nil {
			return nil, err
		}
		if n >= cfg.shardCount {
			extra = append(extra, d.Ref)
		}
	}
	if len(extra) > 0 {
		snaps, err := tx.GetAll(extra)
		if err != nil {
			return nil, err
		}
		for _, d := range snaps {
			if d.Exists() {
				n, _ := shardIndex(d.Ref.ID)
				shards[n] = d
			}
		}
	}
	return shards, nil
}

// forget drops this server's cached view of a counter after a configuration change.
func (s *Store) forget(id string) {
	e := s.entry(id)
	e.stateMu.Lock()
	e.st.invalidate()
	e.stateMu.Unlock()
}
