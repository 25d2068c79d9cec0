package shard

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// BatchIncrement applies all deltas in one atomic commit: every counter gets its share or none
// does. Deltas of the same counter add up. Counters are created on first use. With a key the
// whole batch applies at most once per (key, set of counters named) within the key retention:
// a batch with the same key over another set of counters is another batch (see batchRecordID).
func (s *Counters) BatchIncrement(ctx context.Context, deltas []Delta, key string) (WriteResult, error) {
	if err := checkCount("deltas", len(deltas), MaxBatchDeltas, "deltas"); err != nil {
		return WriteResult{}, err
	}
	if err := check("key", ValidateKey(key)); err != nil {
		return WriteResult{}, err
	}
	totals := map[string]int64{}
	for i, d := range deltas {
		if err := check(fmt.Sprintf("deltas[%d].CounterID", i), ValidateCounterID(d.CounterID)); err != nil {
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

	ids := slices.Sorted(maps.Keys(totals))
	entries := s.pin(ids)
	defer s.unpin(entries)
	r := &request{key: key, fingerprint: batchFingerprint(totals), ins: s.ins}
	for _, e := range entries {
		r.parts = append(r.parts, part{e, totals[e.id]})
	}
	if key != "" {
		r.record = s.batchRecordRef(key, ids)
	}
	var out WriteResult
	var outErr error
	r.answer = func(res WriteResult, err error) { out, outErr = res, err }
	ctx, span := s.ins.start(ctx, spanBatchIncrement)
	c := s.commitRequests(ctx, entries, []*request{r}, span)
	endCommit(span, c, attrBatchCounters.Int(len(entries)), attrKeyed.Bool(key != ""))
	return out, outErr
}

// begin registers an operation that Close must wait for; it fails once the store is closed.
func (s *Counters) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.lanes.Add(1)
	return nil
}
