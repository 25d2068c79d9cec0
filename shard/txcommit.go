package shard

import (
	"context"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// commitInTransaction commits a lane's calls inside a read-write transaction. It is the fallback
// after a conditional commit lost a race (typically several servers incrementing one hot counter
// with few shards): the transaction reads, and so locks, the counter's configuration, the calls'
// records and its shards, plans against their exact values and writes. Locks serialize the
// writers instead of letting them invalidate each other, so the batch makes progress.
//
// It settles every call it can and returns the calls left to retry (the counter was deleted
// meanwhile: the caller recreates it).
func (s *Store) commitInTransaction(ctx context.Context, e *entry, pending []*call, attempts *[]string, settle func(*call, WriteResult, error)) []*call {
	type outcome struct {
		r   WriteResult
		err error
	}
	var (
		early   map[*call]outcome // replayed from a record, or rejected while planning
		planned []*call
		missing bool
		st      counterState
		plan    *shardPlan
	)
	name := newAttempt()
	*attempts = append(*attempts, name)
	var resp firestore.CommitResponse
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		early, planned, missing, plan = map[*call]outcome{}, nil, false, nil
		snap, err := tx.Get(s.metaRef(e.id))
		if status.Code(err) == codes.NotFound {
			missing = true
			return nil
		}
		if err != nil {
			return err
		}
		cfg, err := configOf(snap)
		if err != nil {
			return err
		}
		var recordRefs []*firestore.DocumentRef
		var keyed []*call
		for _, c := range pending {
			if c.key != "" {
				recordRefs = append(recordRefs, e.recordRef(c.key))
				keyed = append(keyed, c)
			}
		}
		records, err := tx.GetAll(recordRefs)
		if err != nil {
			return err
		}
		for i, d := range records {
			if d.Exists() {
				r, err := replayRecord(d, keyed[i].key, keyed[i].fingerprint)
				early[keyed[i]] = outcome{r, err}
			}
		}
		shardRefs := make([]*firestore.DocumentRef, cfg.shardCount)
		for n := range shardRefs {
			shardRefs[n] = s.shardRef(e.id, n)
		}
		shards, err := tx.GetAll(shardRefs)
		if err != nil {
			return err
		}
		st = counterState{loaded: true, loadedAt: s.opts.Now(), config: cfg, shards: map[int]shardVersion{}}
		for _, d := range shards {
			if d.Exists() {
				n, v, err := shardOf(d, cfg.generation)
				if err != nil {
					return err
				}
				st.shards[n] = v
			}
		}
		plan = newShardPlan(e, &st)
		plan.busy = nil // the transaction's locks keep other writers off its shards
		plan.refs = map[int]*firestore.DocumentRef{}
		for _, c := range pending {
			if _, done := early[c]; done {
				continue
			}
			if err := plan.add(c.delta); err != nil {
				early[c] = outcome{err: err}
				continue
			}
			planned = append(planned, c)
		}
		for n, sum := range plan.sums {
			if sum == 0 {
				continue
			}
			ref := s.shardRef(e.id, n)
			plan.refs[n] = ref
			if err := tx.Set(ref, map[string]any{fieldCount: plan.base[n].value + sum, fieldGeneration: cfg.generation, fieldAttempt: name}); err != nil {
				return err
			}
		}
		for _, c := range planned {
			if c.key != "" {
				if err := tx.Create(e.recordRef(c.key), s.recordData(c.key, c.fingerprint, name)); err != nil {
					return err
				}
			}
		}
		return nil
	}, firestore.WithCommitResponseTo(&resp))

	if err == nil && missing {
		e.invalidate()
		return pending
	}
	if err != nil {
		e.invalidate()
		if plan != nil {
			if in, ierr := s.inspect(ctx, []*shardPlan{plan}, nil, *attempts); ierr == nil && in.applied {
				for c, o := range early {
					settle(c, o.r, o.err)
				}
				for _, c := range planned {
					settle(c, WriteResult{CommitTime: in.appliedAt}, nil)
				}
				return nil
			}
		}
		for _, c := range pending {
			settle(c, WriteResult{}, classify(err))
		}
		return nil
	}
	for c, o := range early {
		settle(c, o.r, o.err)
	}
	commitTime := resp.CommitTime()
	e.stateMu.Lock()
	if e.st.loaded && e.st.generation == st.generation {
		for n := range plan.refs {
			e.st.shards[n] = shardVersion{exists: true, value: plan.base[n].value + plan.sums[n], updateTime: commitTime}
		}
	} else {
		e.st.invalidate()
	}
	e.stateMu.Unlock()
	s.commits.Add(1)
	s.increments.Add(uint64(len(planned)))
	for _, c := range planned {
		settle(c, WriteResult{CommitTime: commitTime}, nil)
	}
	return nil
}
