package ttl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
	"github.com/tally-dev/tally/emulator/value"
)

// maxBatch is the most deletes one BatchWrite carries, Firestore's limit for a batch write; it
// also bounds how many expired paths a pass holds in memory.
const maxBatch = 500

// Sweep runs one pass synchronously and returns how many documents it deleted. A failure in one
// database or policy does not stop the others; the errors are joined. A cancelled ctx ends the
// pass early.
func (s *Sweeper) Sweep(ctx context.Context) (deleted int, err error) {
	if len(s.policies) == 0 {
		return 0, nil
	}
	s.passMu.Lock()
	defer s.passMu.Unlock()
	now := s.opts.Now()
	var errs []error
	for db, err := range s.opts.Store.Databases() {
		if err != nil {
			errs = append(errs, fmt.Errorf("ttl: listing databases: %w", err))
			break
		}
		for _, p := range s.policies {
			if cerr := ctx.Err(); cerr != nil {
				if !errors.Is(errors.Join(errs...), cerr) {
					errs = append(errs, cerr)
				}
				return deleted, errors.Join(errs...)
			}
			n, err := s.sweepGroup(ctx, db, p, now)
			deleted += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return deleted, errors.Join(errs...)
}

// sweepGroup deletes the expired documents of one policy's collection group in db, in chunks of
// at most maxBatch, each deleted before the next is read. Each chunk reads a fresh snapshot from
// where the previous one stopped, so a long pass never reads at a time old enough for garbage
// collection to have removed what it needs.
func (s *Sweeper) sweepGroup(ctx context.Context, db resource.Database, p compiledPolicy, now time.Time) (int, error) {
	deleted := 0
	var after []string
	for {
		snap, err := s.opts.Engine.OpenSnapshot(ctx, db, txn.Selector{})
		if err != nil {
			return deleted, fmt.Errorf("ttl: reading %s: %w", db.Name(), err)
		}
		batch, full, err := expiredBatch(ctx, snap, p, now, after)
		if err != nil {
			return deleted, fmt.Errorf("ttl: scanning collection group %q of %s: %w", p.CollectionGroup, db.Name(), err)
		}
		if len(batch) > 0 {
			n, err := s.deleteBatch(ctx, db, batch)
			deleted += n
			if err != nil {
				return deleted, err
			}
		}
		if !full {
			return deleted, nil
		}
		after = batch[len(batch)-1].Path
	}
}

// expiredBatch scans the collection group from after (exclusive; nil = the start) and returns
// deletes for up to maxBatch expired documents; full says the scan stopped at the limit rather
// than at the end.
func expiredBatch(ctx context.Context, snap *txn.Snapshot, p compiledPolicy, now time.Time, after []string) ([]txn.Write, bool, error) {
	var batch []txn.Write
	for v, err := range snap.Documents(nil, p.CollectionGroup, true, after) {
		if err != nil {
			return nil, false, err
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if !expired(v, p.path, now) {
			continue
		}
		// The update_time precondition spares a document changed since the scan, e.g. one whose
		// expiry was extended.
		batch = append(batch, txn.Write{Path: v.Path, Delete: true, UpdateTime: v.UpdateTime})
		if len(batch) == maxBatch {
			return batch, true, nil
		}
	}
	return batch, false, nil
}

// expired reports whether v's TTL field is a timestamp at or before now.
func expired(v *storage.Version, field value.FieldPath, now time.Time) bool {
	f, ok := value.GetField(v.Fields, field)
	if !ok {
		return false
	}
	ts := f.GetTimestampValue()
	return ts != nil && !ts.AsTime().After(now)
}

// deleteBatch deletes the documents and counts those deleted. A document changed or deleted
// since it was scanned fails its precondition; that is expected, and a later pass looks again.
func (s *Sweeper) deleteBatch(ctx context.Context, db resource.Database, writes []txn.Write) (int, error) {
	if s.beforeDelete != nil {
		s.beforeDelete(db, writes)
	}
	_, errs, err := s.opts.Engine.BatchWrite(ctx, db, writes)
	if err != nil {
		return 0, fmt.Errorf("ttl: deleting %d expired documents of %s: %w", len(writes), db.Name(), err)
	}
	deleted := 0
	var unexpected []error
	for i := range writes {
		var werr error
		if i < len(errs) {
			werr = errs[i]
		}
		switch {
		case werr == nil:
			deleted++
		case !changedSinceScan(werr):
			unexpected = append(unexpected, fmt.Errorf("ttl: deleting %s: %w", db.DocumentName(writes[i].Path), werr))
		}
	}
	return deleted, errors.Join(unexpected...)
}

// changedSinceScan reports whether a delete failed only because its document was updated
// (FailedPrecondition) or deleted (NotFound) after the scan.
func changedSinceScan(err error) bool {
	k := txn.KindOf(err)
	return k == txn.KindFailedPrecondition || k == txn.KindNotFound
}
