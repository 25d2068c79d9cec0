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
// database does not stop the others; the errors are joined. A cancelled ctx ends the pass early.
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
		if cerr := ctx.Err(); cerr != nil {
			if !errors.Is(errors.Join(errs...), cerr) {
				errs = append(errs, cerr)
			}
			return deleted, errors.Join(errs...)
		}
		n, err := s.sweepDatabase(ctx, db, now)
		deleted += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return deleted, errors.Join(errs...)
}

// sweepDatabase deletes the expired documents of db, found through the storage's expiry index,
// in chunks of at most maxBatch index entries, each chunk deleted before the next is read. Each
// chunk reads a fresh snapshot, so a long pass never reads at a time old enough for garbage
// collection to have removed what it needs.
func (s *Sweeper) sweepDatabase(ctx context.Context, db resource.Database, now time.Time) (int, error) {
	deleted := 0
	var after *storage.ExpiringDoc
	for {
		snap, err := s.opts.Engine.OpenSnapshot(ctx, db, txn.Selector{})
		if err != nil {
			return deleted, fmt.Errorf("ttl: reading %s: %w", db.Name(), err)
		}
		batch, last, err := s.expiredBatch(ctx, db, snap, now, after)
		if err != nil {
			return deleted, fmt.Errorf("ttl: finding the expired documents of %s: %w", db.Name(), err)
		}
		if len(batch) > 0 {
			n, err := s.deleteBatch(ctx, db, batch)
			deleted += n
			if err != nil {
				return deleted, err
			}
		}
		if last == nil {
			return deleted, nil
		}
		after = last
	}
}

// expiredBatch reads up to maxBatch entries of db's expiry index that are due at now, from after
// (exclusive; nil = the first), and returns deletes for those of the documents that have expired
// as the snapshot sees them, with the last entry read (nil once the index holds no more due).
func (s *Sweeper) expiredBatch(ctx context.Context, db resource.Database, snap *txn.Snapshot, now time.Time, after *storage.ExpiringDoc) ([]txn.Write, *storage.ExpiringDoc, error) {
	var batch []txn.Write
	read := 0
	for d, err := range s.opts.Store.Expiring(db, now.UnixMicro(), after) {
		if err != nil {
			return nil, nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		v, err := snap.Get(d.Path)
		if err != nil {
			return nil, nil, err
		}
		// The index is in µs and may run ahead of the snapshot: the policy has the last word.
		if p, ok := s.policyOf(d.Path); ok && v != nil && expired(v, p.path, now) {
			// The update_time precondition spares a document changed since the scan, e.g. one
			// whose expiry was extended.
			batch = append(batch, txn.Write{Path: v.Path, Delete: true, UpdateTime: v.UpdateTime})
		}
		if read++; read == maxBatch {
			return batch, &d, nil
		}
	}
	return batch, nil, nil
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
