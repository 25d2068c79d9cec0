package shard

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"cloud.google.com/go/firestore"
)

// BatchIncrement applies all deltas in one atomic commit: every counter gets its share or none
// does. Deltas of the same counter add up. Counters are created on first use. With a key the
// whole batch applies at most once per key within the key retention.
func (s *Store) BatchIncrement(ctx context.Context, deltas []Delta, key string) (WriteResult, error) {
	if len(deltas) == 0 || len(deltas) > MaxBatchDeltas {
		return WriteResult{}, invalid("requests", fmt.Sprintf("has %d increments; 1 to %d are allowed", len(deltas), MaxBatchDeltas))
	}
	if err := checkKey("idempotency_key", key); err != nil {
		return WriteResult{}, err
	}
	totals := map[string]int64{}
	for i, d := range deltas {
		if err := checkID(fmt.Sprintf("requests[%d].name", i), d.CounterID); err != nil {
			return WriteResult{}, err
		}
		sum, ok := addInt64(totals[d.CounterID], d.Delta, 0)
		if !ok {
			return WriteResult{}, fmt.Errorf("the deltas for counter %q add up beyond int64: %w", d.CounterID, ErrOutOfRange)
		}
		totals[d.CounterID] = sum
	}
	if err := s.begin(); err != nil {
		return WriteResult{}, err
	}
	defer s.lanes.Done()
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommitTimeout)
	defer cancel()

	ids := slices.Sorted(maps.Keys(totals))
	entries := make([]*entry, len(ids))
	for i, id := range ids {
		entries[i] = s.entry(id)
	}
	fingerprint := batchFingerprint(totals)
	var attempts []string
	for range maxAttempts {
		plans, err := s.planBatch(ctx, entries, totals)
		if err != nil {
			return WriteResult{}, err
		}
		release := func() {
			for _, p := range plans {
				p.e.releasePlan(p)
			}
		}
		name := newAttempt()
		attempts = append(attempts, name)
		wb := s.client.Batch()
		var refs []*firestore.DocumentRef
		for _, p := range plans {
			s.addWrites(wb, p, name)
			for _, n := range slices.Sorted(maps.Keys(p.refs)) {
				refs = append(refs, p.refs[n])
			}
		}
		var recordRefs []*firestore.DocumentRef
		if key != "" {
			ref := s.batchRecordRef(key)
			wb.Create(ref, s.recordData(key, fingerprint, name))
			recordRefs = append(recordRefs, ref)
		}
		if len(refs) == 0 && len(recordRefs) == 0 {
			release()
			return WriteResult{CommitTime: s.opts.Now()}, nil // every total is zero
		}
		commitTime, times, err := commitWrites(ctx, wb, append(refs, recordRefs...))
		if err == nil {
			for _, p := range plans {
				p.e.stateMu.Lock()
				p.committed(times)
				p.release()
				p.e.stateMu.Unlock()
			}
			return WriteResult{CommitTime: commitTime}, nil
		}
		in, ierr := s.inspect(ctx, plans, recordRefs, attempts)
		release()
		switch {
		case ierr == nil && in.applied:
			return WriteResult{CommitTime: in.appliedAt}, nil
		case ierr != nil || !outcomeKnown(err):
			for _, e := range entries {
				e.invalidate()
			}
			return WriteResult{}, classify(err)
		}
		if len(recordRefs) > 0 {
			if d, ok := in.records[recordRefs[0]]; ok {
				return replayRecord(d, key, fingerprint)
			}
		}
	}
	return WriteResult{}, ErrContention
}

// planBatch plans each counter's total on one of its shards and reserves those shards. On error
// nothing stays reserved.
func (s *Store) planBatch(ctx context.Context, entries []*entry, totals map[string]int64) ([]*shardPlan, error) {
	plans := make([]*shardPlan, 0, len(entries))
	for _, e := range entries {
		e.stateMu.Lock()
		err := s.ensureWritable(ctx, e.id, &e.st)
		var p *shardPlan
		if err == nil {
			p = newShardPlan(e, &e.st)
			if err = p.add(totals[e.id]); err == nil {
				p.reserve()
			} else {
				err = fmt.Errorf("counter %q: %w", e.id, err)
			}
		}
		e.stateMu.Unlock()
		if err != nil {
			for _, p := range plans {
				p.e.releasePlan(p)
			}
			return nil, classify(err)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// begin registers an operation that Close must wait for; it fails once the store is closed.
func (s *Store) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.lanes.Add(1)
	return nil
}
