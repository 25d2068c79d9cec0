package shard

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Create creates a counter with value 0 and the given shard count (0 = the default).
func (s *Counters) Create(ctx context.Context, id string, shards int) (*Counter, error) {
	return s.CreateWith(ctx, id, Settings{Shards: shards})
}

// CreateWith creates a counter with value 0 and the given settings.
func (s *Counters) CreateWith(ctx context.Context, id string, set Settings) (*Counter, error) {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return nil, err
	}
	n, err := s.shardCount(set.Shards)
	if err != nil {
		return nil, err
	}
	// The metadata and every shard document are created together (layout.go). Set, not Create,
	// for the shards: a document left by an earlier version of tally for a deleted incarnation is
	// overwritten, and the metadata's precondition makes the commit safe.
	cfg := config{generation: newGeneration(), shardCount: n, adaptive: set.Adaptive}
	wb := s.client.Batch()
	wb.Create(s.metaRef(id), s.newConfigData(id, cfg))
	attempt := newAttempt()
	for _, ref := range s.shardRefs(id, 0, n) {
		wb.Set(ref, shardData(0, cfg.generation, attempt))
	}
	results, err := wb.Commit(ctx)
	s.forget(id)
	if status.Code(err) == codes.AlreadyExists {
		// If the answer to this very create was lost, the client library re-sent it and got
		// ALREADY_EXISTS: the fresh generation id tells whether the counter is ours.
		// Read with a context of its own: the first send may have used up the caller's.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CommitTimeout)
		defer cancel()
		snap, gerr := s.metaRef(id).Get(rctx)
		switch {
		case gerr == nil && snap.Data()[fieldGeneration] == cfg.generation:
			t := snap.CreateTime
			return &Counter{ID: id, ShardCount: n, CreateTime: t, UpdateTime: t, ReadTime: t, Adaptive: set.Adaptive}, nil
		case gerr != nil && !isNotFound(gerr):
			return nil, unknownOutcome(fmt.Errorf("creating counter %q: %v (and reading it back: %v)", id, err, gerr))
		}
		return nil, fmt.Errorf("counter %q: %w", id, ErrAlreadyExists)
	}
	if err != nil {
		return nil, classify(err)
	}
	t := results[0].UpdateTime
	return &Counter{ID: id, ShardCount: n, CreateTime: t, UpdateTime: t, ReadTime: t, Adaptive: set.Adaptive}, nil
}

// shardCount is the shard count a Create or Resize asks for: n, or the default for 0.
func (s *Counters) shardCount(n int) (int, error) {
	if err := check("shards", ValidateShards(n)); err != nil {
		return 0, err
	}
	if n == 0 {
		return s.opts.DefaultShards, nil
	}
	return n, nil
}

// Resize changes a counter's shard count (0 = the default) without changing its value, in one
// transaction that reads every shard, spreads the exact total evenly over the new shards and
// deletes the shards past the new count. Rewriting every shard is also what tells the other
// servers: their next conditional write to the counter fails, and they reload it.
func (s *Counters) Resize(ctx context.Context, id string, shards int) (*Counter, error) {
	return s.Update(ctx, id, Change{Shards: &shards})
}

// Update changes a counter's configuration in one transaction: its shard count, as Resize does,
// and whether the servers adapt it to the load. It returns the counter as changed, with its value.
func (s *Counters) Update(ctx context.Context, id string, ch Change) (*Counter, error) {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return nil, err
	}
	n := 0
	if ch.Shards != nil {
		var err error
		if n, err = s.shardCount(*ch.Shards); err != nil {
			return nil, err
		}
	}
	var out *Counter
	var metaChanged bool
	commitTime, err := s.transact(ctx, id, func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
		out = counterOf(id, cfg)
		changed := cfg
		var meta []firestore.Update // written with the respread's, one write of the metadata
		if ch.Adaptive != nil && *ch.Adaptive != cfg.adaptive {
			changed.adaptive = *ch.Adaptive
			meta = append(meta, adaptiveUpdate(changed.adaptive))
		}
		if ch.Shards == nil && len(meta) > 0 {
			// A change of the metadata alone rewrites every shard too, as a resize to the same
			// count: other servers notice a configuration change only by their conditional
			// shard writes failing, and watchers pair the metadata with the shards by the
			// shards' update times (watch_hub.go), so every change must touch every shard.
			n = cfg.shardCount
		}
		if ch.Shards != nil || len(meta) > 0 {
			t, exact, err := s.respread(tx, id, cfg, shards, n, meta...)
			if err != nil {
				return err
			}
			changed.shardCount, changed.exact, out.Value = n, exact, t
		} else {
			t, err := shardTotal(shards, cfg.generation)
			if err != nil {
				return err
			}
			if !t.IsInt64() {
				return fmt.Errorf("the total of counter %q does not fit in int64: %w", id, ErrOutOfRange)
			}
			out.Value = t.Int64()
		}
		out.ShardCount, out.Adaptive = changed.shardCount, changed.adaptive
		// Metadata written unchanged keeps its update time: the configuration did not change.
		metaChanged = changed.shardCount != cfg.shardCount || changed.exact != cfg.exact || changed.adaptive != cfg.adaptive
		return nil
	})
	if err != nil {
		return nil, err
	}
	if metaChanged {
		out.UpdateTime = commitTime
	}
	out.ReadTime = commitTime
	return out, nil
}

// respread spreads the exact total of a counter's shards (all of them, as lockShards read them)
// evenly over n shards inside tx, deletes the shards past n and records n in the metadata, with
// exact mode set if the total is too close to the int64 bounds, and the extra updates of the
// metadata. It returns the total and whether the counter is now in exact mode.
func (s *Counters) respread(tx *firestore.Transaction, id string, cfg config, shards map[int]*firestore.DocumentSnapshot, n int, extra ...firestore.Update) (total int64, exact bool, err error) {
	t, err := shardTotal(shards, cfg.generation)
	if err != nil {
		return 0, false, err
	}
	if !t.IsInt64() {
		return 0, false, fmt.Errorf("the total of counter %q does not fit in int64: %w", id, ErrOutOfRange)
	}
	shares, ok := evenSplit(t.Int64(), n)
	if err := s.rewriteShards(tx, id, cfg.generation, shares, shards, newAttempt()); err != nil {
		return 0, false, err
	}
	update := append([]firestore.Update{{Path: fieldShardCount, Value: n}, exactUpdate(!ok)}, extra...)
	if err := tx.Update(s.metaRef(id), update); err != nil {
		return 0, false, err
	}
	return t.Int64(), !ok, nil
}

// shardTotal adds up, exactly, the counter's shards of generation gen.
func shardTotal(shards map[int]*firestore.DocumentSnapshot, gen string) (*big.Int, error) {
	var values []int64
	for _, d := range shards {
		v, complete, err := shardsOf([]*firestore.DocumentSnapshot{d}, gen)
		if err != nil {
			return nil, err
		}
		if complete {
			values = append(values, v[0].value)
		}
	}
	return total(values), nil
}

// rewriteShards sets the shards 0..len(values)-1 to values, with a fresh attempt name so that
// every document changes (and so does its update time, which other servers' writes are
// conditional on), and deletes the other shard documents in old.
func (s *Counters) rewriteShards(tx *firestore.Transaction, id, gen string, values []int64, old map[int]*firestore.DocumentSnapshot, attempt string) error {
	for n, v := range values {
		if err := tx.Set(s.shardRef(id, n), shardData(v, gen, attempt)); err != nil {
			return err
		}
	}
	for n, d := range old {
		if n >= len(values) {
			if err := tx.Delete(d.Ref); err != nil {
				return err
			}
		}
	}
	return nil
}

// Reset sets a counter back to 0 by setting every shard to 0. With a key it applies at most once per
// (counter, key), so a retried reset cannot wipe increments made after the first one.
func (s *Counters) Reset(ctx context.Context, id string, key string) (WriteResult, error) {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return WriteResult{}, err
	}
	if err := check("key", ValidateKey(key)); err != nil {
		return WriteResult{}, err
	}
	// A run of the transaction that finds the attempt of one of its earlier runs (applied, but
	// answered ABORTED) answers that run's result instead of resetting again.
	var (
		replayed *WriteResult
		attempt  string
		earlier  = map[string]bool{}
	)
	commitTime, err := s.transactWithPrelude(ctx, id,
		func(tx *firestore.Transaction) error {
			if attempt != "" {
				earlier[attempt] = true
			}
			attempt, replayed = newAttempt(), nil
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
			r, err := recordOf(d)
			if err != nil {
				return err
			}
			if earlier[r.attempt] {
				replayed = &WriteResult{CommitTime: r.commitTime}
				return nil
			}
			res, err := r.replay(key, resetFingerprint())
			replayed = &res
			return err
		},
		func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
			if replayed != nil {
				return nil
			}
			for _, d := range shards {
				if a, _ := d.Data()[fieldAttempt].(string); earlier[a] {
					replayed = &WriteResult{CommitTime: d.UpdateTime}
					return nil
				}
			}
			if err := s.rewriteShards(tx, id, cfg.generation, make([]int64, cfg.shardCount), shards, attempt); err != nil {
				return err
			}
			update := []firestore.Update{{Path: fieldResetTime, Value: firestore.ServerTimestamp}}
			if cfg.exact {
				update = append(update, exactUpdate(false))
			}
			if err := tx.Update(s.metaRef(id), update); err != nil {
				return err
			}
			if key != "" {
				return tx.Create(s.recordRef(id, key), s.recordData(key, resetFingerprint(), attempt))
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
func (s *Counters) Delete(ctx context.Context, id string) error {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return err
	}
	sent := false // a run's commit was sent: it may have been applied
	_, err := s.transact(ctx, id, func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error {
		for _, d := range shards {
			tx.Delete(d.Ref)
		}
		err := tx.Delete(s.metaRef(id))
		sent = sent || err == nil
		return err
	})
	if sent && errors.Is(err, ErrNotFound) {
		// A later run found the counter gone: an earlier run's commit was applied and answered
		// ABORTED, or another server deleted it meanwhile. Either way the delete is done.
		return nil
	}
	return err
}

// transact runs change in a read-write transaction, after reading the counter's configuration
// and locking all its shards, and returns the commit time. It fails with ErrNotFound when the
// counter does not exist.
func (s *Counters) transact(ctx context.Context, id string, change func(tx *firestore.Transaction, cfg config, shards map[int]*firestore.DocumentSnapshot) error) (time.Time, error) {
	return s.transactWithPrelude(ctx, id, nil, change)
}

// transactWithPrelude is transact with extra reads (prelude) before the shards are read.
func (s *Counters) transactWithPrelude(ctx context.Context, id string, prelude func(tx *firestore.Transaction) error,
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
func (s *Counters) lockShards(ctx context.Context, tx *firestore.Transaction, id string, cfg config) (map[int]*firestore.DocumentSnapshot, error) {
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
