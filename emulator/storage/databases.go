package storage

import (
	"bytes"
	"errors"
	"fmt"
	"iter"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tally-dev/tally/emulator/resource"
)

// Databases yields, in key order, every database with at least one key in the L keyspace: a live
// document or a tombstone not yet collected. It reads one key per database and seeks past the
// rest of its namespace. No pebble resources are held while the consumer runs, so it may write
// between databases. A database whose first batch is being synced may already be listed; a read
// of it at DurableTime then finds nothing.
func (s *Store) Databases() iter.Seq2[resource.Database, error] {
	return func(yield func(resource.Database, error) bool) {
		lower := []byte{latestPrefix}
		upper := subtreeEnd(lower)
		for {
			db, prefix, found, err := s.firstDatabase(lower, upper)
			if err != nil {
				yield(resource.Database{}, err)
				return
			}
			if !found || !yield(db, nil) {
				return
			}
			lower = subtreeEnd(prefix)
		}
	}
}

// firstDatabase decodes the database of the first L key in [lower, upper) and returns it with
// the L key prefix of its namespace.
func (s *Store) firstDatabase(lower, upper []byte) (db resource.Database, prefix []byte, found bool, err error) {
	if err := s.enter(); err != nil {
		return db, nil, false, err
	}
	defer s.leave()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return db, nil, false, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	s.scanSteps.Add(1)
	if !it.First() {
		return db, nil, false, it.Error()
	}
	key := it.Key()
	project, n, err := decodeSegment(key[1:])
	if err != nil {
		return db, nil, false, fmt.Errorf("latest key of an unknown database: project: %w", err)
	}
	database, m, err := decodeSegment(key[1+n:])
	if err != nil {
		return db, nil, false, fmt.Errorf("latest key in project %q: database: %w", project, err)
	}
	return resource.Database{Project: project, Database: database}, bytes.Clone(key[:1+n+m]), true, nil
}
