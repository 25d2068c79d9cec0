package storage

import (
	"errors"

	"github.com/tally-dev/tally/emulator/resource"
)

// Latest returns the document's newest durable version, live or tombstone, or nil, nil if none is
// stored. A batch still waiting for its fsync is not visible.
func (s *Store) Latest(db resource.Database, path []string) (*Version, error) {
	return s.lookup(db, path, s.DurableTime(), true)
}

// Get returns the document's live version at readTime, or nil, nil if it did not exist then.
// readTime is capped at DurableTime, like a Snapshot's.
func (s *Store) Get(db resource.Database, path []string, readTime int64) (*Version, error) {
	return s.Snapshot(db, readTime).Get(path)
}

func (s *Store) lookup(db resource.Database, path []string, at int64, withTombstone bool) (v *Version, err error) {
	if err := validateDatabase(db); err != nil {
		return nil, err
	}
	if err := validateDocumentPath(path, "document path"); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	r := &reader{s: s, ns: namespace(db), at: at}
	defer func() { err = errors.Join(err, r.close()) }()
	return r.pointLookup(path, withTombstone)
}

// Snapshot is a consistent view of one database as of a read time. Its methods stream from
// pebble; it holds no resources, so it needs no closing.
type Snapshot struct {
	s        *Store
	db       resource.Database
	readTime int64
}

// Snapshot returns a view of db as of readTime (µs), capped at DurableTime so that nothing is
// read before it is durable; ReadTime reports the effective time. Versions at or below it never
// change, so every read of the snapshot sees the same state (until garbage collection passes it).
func (s *Store) Snapshot(db resource.Database, readTime int64) *Snapshot {
	return &Snapshot{s: s, db: db, readTime: min(readTime, s.DurableTime())}
}

// ReadTime is the time the snapshot reads at.
func (sn *Snapshot) ReadTime() int64 { return sn.readTime }

// Get returns the live version of the document at the snapshot's time, or nil, nil if it did
// not exist then.
func (sn *Snapshot) Get(path []string) (*Version, error) {
	return sn.s.lookup(sn.db, path, sn.readTime, false)
}
