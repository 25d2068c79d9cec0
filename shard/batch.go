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

	// Lock the counters in id order, so concurrent batches cannot deadlock; this also keeps the
	// batch from racing this server's own coalesced commits to the same counters.
	ids := slices.Sorted(maps.Keys(totals))
	entries := make([]*entry, len(ids))
	for i, id := range ids {
		entries[i] = s.entry(id)
		entries[i].stateMu.Lock()
		defer entries[i].stateMu.Unlock()
	}
	fingerprint := batchFingerprint(totals)
	var attempts []string
	for range maxAttempts {
		plans := make([]*shardPlan, len(entries))
		for i, e := range entries {
			if err := s.ensureWritable(ctx, e.id, &e.st); err != nil {
				return WriteResult{}, classify(err)
			}
			plans[i] = newShardPlan(e.id, &e.st)
			if err := plans[i].add(totals[e.id]); err != nil {
				return WriteResult{}, fmt.Errorf("counter %q: %w", e.id, err)
			}
		}
		name := newAttempt()
		attempts = append(attempts, name)
		wb := s.client.Batch()
		var refs []*firestore.DocumentRef
		for _, p := range plans {
			s.addWrites(wb, p, name)
			for _, ref := range p.refs {
				refs = append(refs, ref)
			}
		}
		var recordRefs []*firestore.DocumentRef
		if key != "" {
			ref := s.batchRecordRef(key)
			wb.Create(ref, s.recordData(key, fingerprint, name))
			recordRefs = append(recordRefs, ref)
		}
		if len(refs) == 0 && len(recordRefs) == 0 {
			return WriteResult{CommitTime: s.opts.Now()}, nil // every total is zero
		}
		commitTime, times, err := commitWrites(ctx, wb, append(refs, recordRefs...))
		if err == nil {
			for _, p := range plans {
				p.committed(times)
			}
			return WriteResult{CommitTime: commitTime}, nil
		}
		in, ierr := s.inspect(ctx, plans, recordRefs, attempts)
		switch {
		case ierr == nil && in.applied:
			for _, e := range entries {
				e.st.invalidate()
			}
			return WriteResult{CommitTime: in.appliedAt}, nil
		case ierr != nil || !outcomeKnown(err):
			for _, e := range entries {
				e.st.invalidate()
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
