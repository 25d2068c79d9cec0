package txn

import (
	"context"
	"sort"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// Selector chooses the consistency of a read. At most one field is set; none means "now".
type Selector struct {
	Transaction    []byte      // read inside this transaction
	NewTransaction *TxnOptions // begin a transaction and read inside it
	ReadTime       int64       // read as of this time (µs)
}

// ReadResult holds documents read by GetDocuments.
type ReadResult struct {
	Versions       []*storage.Version // in request order; nil where the document is missing
	ReadTime       int64
	NewTransaction []byte // the id of the transaction begun for Selector.NewTransaction
}

// GetDocuments reads documents. Inside a read-write transaction each document is locked and the
// newest version is read; elsewhere all documents are read from one snapshot.
func (e *Engine) GetDocuments(ctx context.Context, db resource.Database, sel Selector, paths [][]string) (*ReadResult, error) {
	t, newID, err := e.selectTxn(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	res := &ReadResult{NewTransaction: newID}
	if t != nil && !t.readOnly {
		res.Versions, res.ReadTime, err = e.readLocked(ctx, t, paths)
		return res, err
	}
	readTime := sel.ReadTime
	if t != nil {
		readTime = t.readTime
	} else if readTime, err = e.readTimeFor(ctx, readTime); err != nil {
		return nil, err
	}
	snap := e.store.Snapshot(db, readTime)
	res.ReadTime = readTime
	res.Versions = make([]*storage.Version, len(paths))
	for i, p := range paths {
		if res.Versions[i], err = snap.Get(p); err != nil {
			return nil, errorf(KindInternal, "reading %s: %v", db.DocumentName(p), err)
		}
	}
	return res, nil
}

// selectTxn resolves the transaction a read runs in, beginning one if asked. It returns nil for
// reads outside any transaction.
func (e *Engine) selectTxn(ctx context.Context, db resource.Database, sel Selector) (*Txn, []byte, error) {
	switch {
	case len(sel.Transaction) > 0:
		t, err := e.lookup(db, sel.Transaction)
		return t, nil, err
	case sel.NewTransaction != nil:
		t, err := e.begin(ctx, db, *sel.NewTransaction)
		if err != nil {
			return nil, nil, err
		}
		return t, []byte(t.id), nil
	}
	return nil, nil, nil
}

// readLocked reads documents for a read-write transaction: it locks them, waits until any commit
// to them in flight is durable, then reads their newest versions and records what it saw.
func (e *Engine) readLocked(ctx context.Context, t *Txn, paths [][]string) ([]*storage.Version, int64, error) {
	keys := make([]string, len(paths))
	for i, p := range paths {
		keys[i] = docKey(t.db, p)
	}
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	for _, k := range sorted {
		if err := e.acquire(ctx, t, k); err != nil {
			return nil, 0, err
		}
	}
	if err := e.awaitPending(ctx, keys); err != nil {
		return nil, 0, err
	}
	readTime := e.currentReadTime()
	out := make([]*storage.Version, len(paths))
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, p := range paths {
		v, err := e.store.Latest(t.db, p)
		if err != nil {
			return nil, 0, errorf(KindInternal, "reading %s: %v", t.db.DocumentName(p), err)
		}
		var ut int64
		if v != nil {
			ut = v.UpdateTime
			// A commit that slipped in after the wait above may be newer than readTime; report
			// a read time that covers what was actually read.
			readTime = max(readTime, ut)
			if !v.Deleted {
				out[i] = v
			}
		}
		if _, seen := t.reads[keys[i]]; !seen {
			t.reads[keys[i]] = observed{db: t.db, path: p, updateTime: ut}
		}
	}
	return out, readTime, nil
}

// awaitPending waits until every sequenced commit to the given documents is durable.
func (e *Engine) awaitPending(ctx context.Context, keys []string) error {
	e.seqMu.Lock()
	var tickets []ticket
	for _, k := range keys {
		if p, ok := e.pending[k]; ok {
			tickets = append(tickets, p.ticket)
		}
	}
	e.seqMu.Unlock()
	for _, tk := range tickets {
		if err := waitTicket(ctx, tk); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot is a consistent view for queries and listings, possibly inside a transaction.
type Snapshot struct {
	*storage.Snapshot
	NewTransaction []byte // the id of the transaction begun for Selector.NewTransaction
	readTime       int64
	txn            *Txn // set for read-write transactions, whose queries are re-checked at commit
}

// ReadTime is the time the snapshot represents. Storage may read at an earlier time when no
// commit lies between the two; the result is the same.
func (s *Snapshot) ReadTime() int64 { return s.readTime }

// OpenSnapshot returns the view a query or listing should read. Inside a read-write transaction
// it is the newest durable state, and queries run on it should be recorded with RecordQuery.
func (e *Engine) OpenSnapshot(ctx context.Context, db resource.Database, sel Selector) (*Snapshot, error) {
	t, newID, err := e.selectTxn(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	var readTime int64
	switch {
	case t != nil && t.readOnly:
		readTime = t.readTime
	case t != nil:
		e.lockMu.Lock()
		aborted := t.state == stateAborted
		e.lockMu.Unlock()
		if aborted {
			return nil, t.abortError()
		}
		// See everything sequenced so far, so the query's result is as fresh as a locked read.
		e.seqMu.Lock()
		last := e.lastTicket
		e.seqMu.Unlock()
		if last != nil {
			if err := waitTicket(ctx, last); err != nil {
				return nil, err
			}
		}
		readTime = e.currentReadTime()
	default:
		if readTime, err = e.readTimeFor(ctx, sel.ReadTime); err != nil {
			return nil, err
		}
	}
	snap := &Snapshot{Snapshot: e.store.Snapshot(db, readTime), NewTransaction: newID, readTime: readTime}
	if t != nil && !t.readOnly {
		snap.txn = t
	}
	return snap, nil
}

// RecordQuery remembers a query run on s inside a read-write transaction: at commit, rerun must
// produce the same digest over the newest state or the commit is aborted. A no-op elsewhere.
func (s *Snapshot) RecordQuery(digest []byte, rerun func(ctx context.Context, snap *storage.Snapshot) ([]byte, error)) {
	if s.txn == nil {
		return
	}
	s.txn.mu.Lock()
	defer s.txn.mu.Unlock()
	s.txn.queries = append(s.txn.queries, recordedQuery{rerun: rerun, digest: digest})
}
