package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// memTableBytes is pebble's largest memtable (it starts small and grows). A pebble batch of
// half this size or more bypasses the memtable and forces a flush, so this keeps groups of up
// to DefaultMaxGroupBytes on the ordinary path. Larger memtables make lookups slower: they are
// skiplists, searched on every commit, while flushed tables have bloom filters.
const memTableBytes = 2 * DefaultMaxGroupBytes

// blockCacheBytes is pebble's block cache: filter, index and data blocks of the tables.
const blockCacheBytes = 128 << 20

// formatVersion is written under formatKey when a store is created; Open refuses any other.
const formatVersion = 1

var (
	formatKey  = []byte{metaPrefix, 'f', 'o', 'r', 'm', 'a', 't'}
	durableKey = []byte{metaPrefix, 'd', 'u', 'r', 'a', 'b', 'l', 'e'}
)

// Store is a durable multi-version document store. All methods are safe for concurrent use,
// except that Submit calls must be serialised by the caller (they carry increasing commit times).
type Store struct {
	db            *pebble.DB
	log           *slog.Logger
	maxGroupBytes int
	expiry        *Expiry // nil: no expiry index

	durable atomic.Int64 // CommitTime of the newest batch known to be synced

	queueMu       sync.Mutex
	queueReady    *sync.Cond // signalled on Submit and Close
	queue         []*pending
	lastSubmitted int64
	closing       bool
	failure       error // first write failure; never cleared
	flusherDone   chan struct{}

	// writeMu orders the writes whose correctness depends on the current L keys: group commits
	// (which include database drops) and GC's removal of tombstones.
	writeMu sync.Mutex
	// broken is set when pebble panicked inside a write; pebble's state is then unknown and
	// Close leaves it alone.
	broken atomic.Bool

	gateMu sync.Mutex
	closed bool
	active sync.WaitGroup // operations between enter and leave

	gc *gcState

	flushes atomic.Uint64
	batches atomic.Uint64

	// scanSteps counts iterator positioning calls made by scans, so tests can check that a scan
	// skips subtrees instead of walking them.
	scanSteps atomic.Int64
}

// Stats counts the store's group commits since Open.
type Stats struct {
	Batches uint64 // batches (and database drops) made durable
	Flushes uint64 // synced pebble writes (one fsync each) that carried them
}

// Open opens or creates the store described by opts.
func Open(opts Options) (s *Store, err error) {
	opts = opts.withDefaults()
	fs, dir := opts.fs, opts.Dir
	switch {
	case fs != nil:
	case opts.InMemory:
		fs, dir = vfs.NewMem(), ""
	case dir == "":
		return nil, fmt.Errorf("%w: Options.Dir must name a data directory unless InMemory is set", ErrInvalid)
	default:
		fs = vfs.Default
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("storage: opening %q: pebble failed: %v", dir, r)
		}
	}()
	// Point lookups of documents that do not exist read each candidate table's filter and index
	// blocks; they must stay cached, or every commit decompresses them again.
	cache := pebble.NewCache(blockCacheBytes)
	defer cache.Unref()
	popts := &pebble.Options{
		Cache:              cache,
		FS:                 fs,
		Logger:             pebbleLogger{opts.Logger},
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       memTableBytes,
	}
	// Most commits ask whether a document exists before creating it (every precondition, every
	// idempotency record); without bloom filters each such miss searches every table's index.
	// Levels below L0 inherit the policy.
	popts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("storage: opening %q: %w", dir, err)
	}
	durable, err := prepareFormat(db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := prepareExpiryIndex(db, opts.Expiry); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s = &Store{
		db:            db,
		log:           opts.Logger,
		maxGroupBytes: opts.MaxGroupBytes,
		expiry:        opts.Expiry,
		lastSubmitted: durable,
		flusherDone:   make(chan struct{}),
		gc:            newGCState(),
	}
	s.durable.Store(durable)
	s.queueReady = sync.NewCond(&s.queueMu)
	go s.flushLoop()
	go s.rebuildGCState()
	return s, nil
}

// prepareFormat checks the format marker of an existing store, or writes it into an empty one,
// and returns the persisted durable time.
func prepareFormat(db *pebble.DB) (int64, error) {
	value, closer, err := db.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return 0, initialise(db)
	case err != nil:
		return 0, fmt.Errorf("storage: reading the format marker: %w", err)
	}
	version, n := binary.Uvarint(value)
	closer.Close()
	if n <= 0 || version != formatVersion {
		return 0, fmt.Errorf("%w: the data directory holds format %d, this build reads format %d", ErrUnsupportedFormat, version, formatVersion)
	}
	value, closer, err = db.Get(durableKey)
	if err != nil {
		return 0, fmt.Errorf("%w: reading the durable commit time: %v", ErrCorrupt, err)
	}
	defer closer.Close()
	if len(value) != 8 {
		return 0, fmt.Errorf("%w: durable commit time is %d bytes, expected 8", ErrCorrupt, len(value))
	}
	return int64(binary.BigEndian.Uint64(value)), nil
}

// initialise writes the metadata of a new store, refusing a directory that already holds keys
// without a format marker.
func initialise(db *pebble.DB) error {
	it, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	nonEmpty := it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if nonEmpty {
		return fmt.Errorf("%w: the data directory holds keys but no format marker", ErrUnsupportedFormat)
	}
	b := db.NewBatch()
	defer b.Close()
	if err := b.Set(formatKey, binary.AppendUvarint(nil, formatVersion), nil); err != nil {
		return err
	}
	if err := b.Set(durableKey, binary.BigEndian.AppendUint64(nil, 0), nil); err != nil {
		return err
	}
	return db.Apply(b, pebble.Sync)
}

// Close writes every batch already submitted, waits for their tickets and for running reads,
// then closes pebble. Later calls return ErrClosed. After a fatal pebble failure Close returns
// that failure and leaves pebble alone, since its state is unknown.
func (s *Store) Close() error {
	s.queueMu.Lock()
	if s.closing {
		s.queueMu.Unlock()
		return ErrClosed
	}
	s.closing = true
	s.queueReady.Broadcast()
	s.queueMu.Unlock()
	<-s.flusherDone
	s.gc.stopRebuild()

	s.gateMu.Lock()
	s.closed = true
	s.gateMu.Unlock()
	s.active.Wait()

	if s.broken.Load() {
		return s.writeFailure()
	}
	return s.db.Close()
}

// enter admits one operation that uses pebble; Close waits for it to leave. A nested enter
// during Close fails instead of deadlocking.
func (s *Store) enter() error {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.active.Add(1)
	return nil
}

func (s *Store) leave() { s.active.Done() }

// DurableTime is the CommitTime of the newest durable batch, or the persisted one right after
// Open. Reads are served at or below it.
func (s *Store) DurableTime() int64 { return s.durable.Load() }

// LastCommitTime is the greatest commit time ever made durable, so that a restarted clock can
// move past it. Batches are made durable in commit-time order, so it equals DurableTime.
func (s *Store) LastCommitTime() int64 { return s.durable.Load() }

// Stats reports group-commit counters since Open.
func (s *Store) Stats() Stats {
	return Stats{Batches: s.batches.Load(), Flushes: s.flushes.Load()}
}

func (s *Store) writeFailure() error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	return s.failure
}

// fail records the first write failure; the store accepts no writes afterwards.
func (s *Store) fail(cause error) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	if s.failure == nil {
		s.failure = fmt.Errorf("%w: %w", ErrWriteFailed, cause)
		s.log.Error("storage: write failed; refusing further writes", "err", cause)
	}
	return s.failure
}

// applyWrite applies b for a caller holding writeMu, converting a pebble panic into an error.
func (s *Store) applyWrite(b *pebble.Batch, opts *pebble.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.broken.Store(true)
			err = fmt.Errorf("pebble failed: %v", r)
		}
	}()
	return s.db.Apply(b, opts)
}
