// Package txn runs the emulator's transactions: it orders commits, applies writes, and keeps
// transactions serializable without stalling them.
//
// Every commit passes through one short critical section (the sequencer) that validates what the
// transaction read, applies the writes to the newest state of each document, assigns a commit time
// and hands the batch to storage. The caller then waits outside the critical section until storage
// has fsynced the batch; concurrent commits share those fsyncs. A commit is acknowledged only once it
// is durable, and reads only see durable data.
package txn

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// Store is the minimum the engine needs from storage.
type Store interface {
	Submit(b *storage.Batch) *storage.Ticket
	DurableTime() int64
	LastCommitTime() int64
	Latest(db resource.Database, path []string) (*storage.Version, error)
	LatestAll(db resource.Database, paths [][]string) ([]*storage.Version, error)
	Snapshot(db resource.Database, readTime int64) *storage.Snapshot
	CollectGarbage(horizon int64) (storage.GCStats, error)
}

var _ Store = (*storage.Store)(nil)

// Options configure an Engine. Zero fields take the defaults documented on each.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// LockWait bounds how long anyone waits for a document locked by a transaction before that
	// transaction is aborted; default 1s.
	LockWait time.Duration
	// TxnLifetime and TxnIdle expire transactions as production does: 270s total, 60s idle.
	TxnLifetime time.Duration
	TxnIdle     time.Duration
	// VersionRetention is how far back reads at a read_time may go; older versions are garbage
	// collected. Default 1h (production's point-in-time window).
	VersionRetention time.Duration
	// GCInterval is how often old versions are collected; default 1m.
	GCInterval time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LockWait <= 0 {
		o.LockWait = time.Second
	}
	if o.TxnLifetime <= 0 {
		o.TxnLifetime = 270 * time.Second
	}
	if o.TxnIdle <= 0 {
		o.TxnIdle = 60 * time.Second
	}
	if o.VersionRetention <= 0 {
		o.VersionRetention = time.Hour
	}
	if o.GCInterval <= 0 {
		o.GCInterval = time.Minute
	}
}

// Engine is the transactional core of the emulator. It is safe for concurrent use.
type Engine struct {
	opts  Options
	store Store

	// Lock order: txnMu, then lockMu, then seqMu.
	txnMu       sync.Mutex
	txns        map[string]*Txn                      // txnMu: live transactions by id
	retiredAges map[string]retiredAge                // txnMu
	ageSeq      uint64                               // txnMu
	committed   map[resource.Database]*committedTxns // txnMu: recent commits, for re-sent Commits

	lockMu sync.Mutex
	locks  map[string]*lock // lockMu: document key → lock

	seqMu      sync.Mutex
	lastTime   int64                     // seqMu: greatest commit or read time handed out
	pending    map[string]pendingVersion // seqMu: sequenced, not yet durable, newest per document
	lastTicket ticket                    // seqMu: ticket of the newest submitted batch
	durableLog durableLog                // seqMu: documents that recently left pending
	failure    error                     // seqMu: set once storage failed; the engine refuses writes

	// holdTicket, set only by tests, replaces the ticket of every submitted batch, so that a test
	// can keep a batch from counting as durable for as long as it needs to observe what waits
	// for it. seqMu.
	holdTicket func(*storage.Ticket) ticket

	feed feed // the change feed of durable commits (feed.go)

	stop chan struct{}
	done sync.WaitGroup
}

// ticket is what the engine waits on for a submitted batch to become durable. It is the
// *storage.Ticket storage returned, except where a test holds it back (Engine.holdTicket).
type ticket interface {
	// Done is closed once the batch is durable or storage has failed.
	Done() <-chan struct{}
	// Err is nil when the batch is durable; valid once Done is closed.
	Err() error
}

// pendingVersion is the newest version of a document that is sequenced but maybe not yet durable.
type pendingVersion struct {
	version *storage.Version
	ticket  ticket
}

// New starts an engine over opts.Store, including its background expiry and GC loops.
func New(opts Options) *Engine {
	opts.setDefaults()
	e := &Engine{
		opts:        opts,
		store:       opts.Store,
		txns:        map[string]*Txn{},
		retiredAges: map[string]retiredAge{},
		committed:   map[resource.Database]*committedTxns{},
		locks:       map[string]*lock{},
		pending:     map[string]pendingVersion{},
		lastTime:    opts.Store.LastCommitTime(),
		stop:        make(chan struct{}),
	}
	e.done.Add(1)
	go e.background()
	return e
}

// Close stops the background loops. The store is the caller's to close.
func (e *Engine) Close() {
	close(e.stop)
	e.done.Wait()
	e.stopFeedPublisher()
}

func (e *Engine) background() {
	defer e.done.Done()
	expire := time.NewTicker(5 * time.Second)
	defer expire.Stop()
	gc := time.NewTicker(e.opts.GCInterval)
	defer gc.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-expire.C:
			e.expireIdle()
		case <-gc.C:
			if _, err := e.CollectGarbage(); err != nil {
				e.opts.Logger.Error("collecting old document versions", "err", err)
			}
		}
	}
}

// CollectGarbage deletes document versions no permitted read can see any more.
func (e *Engine) CollectGarbage() (storage.GCStats, error) {
	horizon := e.opts.Now().Add(-e.opts.VersionRetention).UnixMicro()
	if oldest := e.oldestReadOnlyTime(); oldest != 0 && oldest < horizon {
		horizon = oldest
	}
	return e.store.CollectGarbage(horizon)
}

// usable reports the storage failure that made the engine refuse work, if any.
func (e *Engine) usable() error {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	return e.failure
}

// nextCommitTimeLocked hands out a commit time: the wall clock in microseconds, but always after
// every time handed out before, so commit times only go forward. Caller holds seqMu.
func (e *Engine) nextCommitTimeLocked() int64 {
	t := e.opts.Now().UnixMicro()
	if t <= e.lastTime {
		t = e.lastTime + 1
	}
	e.lastTime = t
	return t
}

// currentReadTime picks the time a read "now" is served at. When nothing is in flight it is the
// current time (reserved, so that no later commit can be stamped at or before it); otherwise it is
// the newest durable commit, so the read does not wait for an fsync.
func (e *Engine) currentReadTime() int64 {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	if e.lastTicket != nil && !isDone(e.lastTicket) {
		return e.store.DurableTime()
	}
	t := e.opts.Now().UnixMicro()
	if t < e.lastTime {
		t = e.lastTime
	}
	e.lastTime = t
	return t
}

// readTimeFor validates a client's read_time (0 = now) and makes it safe to read at: no commit
// that is not yet durable, and no later commit, can have a time at or before it.
func (e *Engine) readTimeFor(ctx context.Context, requested int64) (int64, error) {
	if requested == 0 {
		return e.currentReadTime(), nil
	}
	now := e.opts.Now()
	if requested > now.UnixMicro() {
		return 0, errorf(KindInvalidArgument, "read_time %s is in the future", formatMicros(requested))
	}
	if oldest := now.Add(-e.opts.VersionRetention).UnixMicro(); requested < oldest {
		return 0, errorf(KindFailedPrecondition,
			"read_time %s is older than the version retention window (%s)", formatMicros(requested), e.opts.VersionRetention)
	}
	e.seqMu.Lock()
	if e.lastTime < requested {
		e.lastTime = requested
	}
	ticket := e.lastTicket
	e.seqMu.Unlock()
	if ticket != nil && e.store.DurableTime() < requested {
		if err := waitTicket(ctx, ticket); err != nil {
			return 0, err
		}
	}
	return requested, nil
}

func isDone(t ticket) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// waitTicket waits for a batch to become durable; an error means storage failed.
func waitTicket(ctx context.Context, t ticket) error {
	select {
	case <-t.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := t.Err(); err != nil {
		return errorf(KindInternal, "storage failed: %v", err)
	}
	return nil
}

func formatMicros(us int64) string {
	return time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
}

// docKey identifies a document across databases in the engine's in-memory maps.
func docKey(db resource.Database, path []string) string {
	return db.DocumentName(path)
}
