package txn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

type txnState int

const (
	stateActive     txnState = iota
	stateCommitting          // past the point where it can be wounded
	stateAborted
	stateDone
)

// Txn is a live transaction. Fields marked "lockMu" are guarded by Engine.lockMu.
type Txn struct {
	id       string
	db       resource.Database
	readOnly bool
	readTime int64 // read-only transactions read everything at this time
	// age orders transactions for wound-wait; a retry inherits the age of the attempt it retries.
	age     int64
	ageTie  uint64
	started time.Time
	claimed bool          // txnMu: a Commit of this transaction has started; it commits at most once
	settled chan struct{} // txnMu: made by a second Commit that waits, closed when the first finishes

	state       txnState            // lockMu
	abortReason string              // lockMu
	held        map[string]struct{} // lockMu: document keys this transaction has locked
	wounded     chan struct{}       // closed when the transaction is aborted by another

	mu       sync.Mutex // protects the fields below
	lastUsed time.Time
	reads    map[string]observed // document key → what the transaction saw
	queries  []recordedQuery
}

// observed is what a read-write transaction saw of one document: the update time of its newest
// version (a tombstone's delete time, or 0 when nothing was stored).
type observed struct {
	db         resource.Database
	path       []string
	updateTime int64
}

// recordedQuery lets the engine re-run a query at commit time and check its result is unchanged.
type recordedQuery struct {
	rerun  func(ctx context.Context, snap *storage.Snapshot) ([]byte, error)
	digest []byte
}

func (t *Txn) olderThan(u *Txn) bool {
	if t.age != u.age {
		return t.age < u.age
	}
	return t.ageTie < u.ageTie
}

func (t *Txn) abortError() error {
	return errorf(KindAborted, "transaction aborted: %s; retry it", t.abortReason)
}

// TxnOptions are the options of BeginTransaction.
type TxnOptions struct {
	ReadOnly bool
	ReadTime int64  // read-only: read at this time (µs); 0 = now
	RetryOf  []byte // read-write: the id of the attempt this one retries
}

// Begin starts a transaction and returns its id.
func (e *Engine) Begin(ctx context.Context, db resource.Database, opts TxnOptions) ([]byte, error) {
	t, err := e.begin(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	return []byte(t.id), nil
}

func (e *Engine) begin(ctx context.Context, db resource.Database, opts TxnOptions) (*Txn, error) {
	if err := e.usable(); err != nil {
		// Not INTERNAL, which the clients retry on BeginTransaction until their deadline: the
		// refusal lasts until a restart, and nothing was written, so it fails fast.
		return nil, errorf(KindFailedPrecondition, "refusing transactions until the emulator is restarted, since a write to its storage failed: %v", err)
	}
	now := e.opts.Now()
	t := &Txn{
		db:       db,
		readOnly: opts.ReadOnly,
		started:  now,
		lastUsed: now,
		held:     map[string]struct{}{},
		wounded:  make(chan struct{}),
		reads:    map[string]observed{},
	}
	var idBytes [12]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return nil, errorf(KindInternal, "generating a transaction id: %v", err)
	}
	t.id = base64.RawURLEncoding.EncodeToString(idBytes[:])
	if opts.ReadOnly {
		rt, err := e.readTimeFor(ctx, opts.ReadTime)
		if err != nil {
			return nil, err
		}
		t.readTime = rt
	}

	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	e.ageSeq++
	t.age, t.ageTie = now.UnixMicro(), e.ageSeq
	if len(opts.RetryOf) > 0 {
		if prev, ok := e.txns[string(opts.RetryOf)]; ok && prev.db == db {
			t.age, t.ageTie = prev.age, prev.ageTie
			e.endLocked(prev, "it was retried by a new transaction")
		} else if age, ok := e.retiredAges[string(opts.RetryOf)]; ok {
			t.age, t.ageTie = age.age, age.tie
		}
	}
	e.txns[t.id] = t
	return t, nil
}

// lookup finds a live transaction of db and marks it used.
func (e *Engine) lookup(db resource.Database, id []byte) (*Txn, error) {
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	t, ok := e.txns[string(id)]
	if !ok || t.db != db {
		return nil, errTxnInvalid()
	}
	if err := e.touchLocked(t); err != nil {
		return nil, err
	}
	return t, nil
}

// claim is lookup for Commit: it also marks the transaction as being committed, so that a second
// Commit of it (a re-send) cannot commit it again. When the transaction is not live, t is nil;
// settled is then either nil or, when another Commit of it is still running, closed once that one
// has finished and its outcome is recorded.
func (e *Engine) claim(db resource.Database, id []byte) (t *Txn, settled <-chan struct{}, err error) {
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	t, ok := e.txns[string(id)]
	if !ok || t.db != db {
		return nil, nil, nil
	}
	if t.claimed {
		if t.settled == nil {
			t.settled = make(chan struct{})
		}
		return nil, t.settled, nil
	}
	if err := e.touchLocked(t); err != nil {
		return nil, nil, err
	}
	t.claimed = true
	return t, nil, nil
}

// touchLocked marks t used, or ends it if it has expired. Caller holds txnMu.
func (e *Engine) touchLocked(t *Txn) error {
	now := e.opts.Now()
	t.mu.Lock()
	idle := now.Sub(t.lastUsed)
	t.lastUsed = now
	t.mu.Unlock()
	if now.Sub(t.started) > e.opts.TxnLifetime || idle > e.opts.TxnIdle {
		e.endLocked(t, "it expired")
		return errTxnInvalid()
	}
	return nil
}

// Rollback ends a transaction, releasing its locks. Rolling back an unknown transaction is not an
// error: the client rolls back after failures whose cause may already have ended it.
func (e *Engine) Rollback(db resource.Database, id []byte) error {
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	t, ok := e.txns[string(id)]
	if !ok {
		return nil
	}
	if t.db != db {
		return errTxnInvalid()
	}
	e.endLocked(t, "it was rolled back")
	return nil
}

// endLocked removes t, aborting it if it is still active. Caller holds txnMu.
func (e *Engine) endLocked(t *Txn, reason string) {
	delete(e.txns, t.id)
	e.retire(t)
	e.lockMu.Lock()
	defer e.lockMu.Unlock()
	switch t.state {
	case stateActive:
		e.woundLocked(t, reason)
	case stateCommitting:
		// The commit in flight finishes and releases its own locks.
	default:
		e.releaseLocked(t)
	}
}

// retiredAge remembers the age of an ended read-write transaction, so that a retry that names it
// keeps its priority even after the failed attempt was rolled back.
type retiredAge struct {
	age  int64
	tie  uint64
	when time.Time
}

// retire records t's age. Caller holds txnMu.
func (e *Engine) retire(t *Txn) {
	if t.readOnly {
		return
	}
	e.retiredAges[t.id] = retiredAge{age: t.age, tie: t.ageTie, when: e.opts.Now()}
}

// finish ends a transaction whose Commit was attempted and releases its locks. rec describes the
// commit when it committed and is kept for re-sends of the Commit; nil means it failed, and then
// its age is kept for the retry (a committed transaction is never retried).
func (e *Engine) finish(t *Txn, rec *committedTxn) {
	e.txnMu.Lock()
	delete(e.txns, t.id)
	if rec == nil {
		e.retire(t)
	} else {
		e.recordCommitLocked(t.db, t.id, rec)
	}
	if t.settled != nil {
		close(t.settled)
		t.settled = nil
	}
	e.txnMu.Unlock()
	e.lockMu.Lock()
	if t.state != stateAborted {
		t.state = stateDone
	}
	e.releaseLocked(t)
	e.lockMu.Unlock()
}

// expireIdle ends transactions past their lifetime or idle limit and forgets old retired ages
// and commits.
func (e *Engine) expireIdle() {
	now := e.opts.Now()
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	for _, t := range e.txns {
		t.mu.Lock()
		idle := now.Sub(t.lastUsed)
		t.mu.Unlock()
		if now.Sub(t.started) > e.opts.TxnLifetime || idle > e.opts.TxnIdle {
			e.endLocked(t, "it expired")
		}
	}
	for id, r := range e.retiredAges {
		if now.Sub(r.when) > e.opts.TxnLifetime {
			delete(e.retiredAges, id)
		}
	}
	e.ageCommittedLocked(now)
}

// oldestReadOnlyTime is the earliest read time of a live read-only transaction, or 0 if none.
// Version garbage collection must keep what those transactions can still read.
func (e *Engine) oldestReadOnlyTime() int64 {
	e.txnMu.Lock()
	defer e.txnMu.Unlock()
	var oldest int64
	for _, t := range e.txns {
		if t.readOnly && (oldest == 0 || t.readTime < oldest) {
			oldest = t.readTime
		}
	}
	return oldest
}
