package txn

import (
	"bytes"
	"context"
	"sort"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// CommitResult is the outcome of a Commit.
type CommitResult struct {
	CommitTime int64
	Results    []WriteResult
}

// Commit applies writes atomically, inside transaction txnID when it is non-empty. It returns only
// once the writes are durable. Either every write applies or none does.
//
// A failed Commit is answered only once every commit sequenced before the failure is durable too
// (see settle). A Commit of a transaction that this engine committed recently, with the same
// writes, is taken for a re-send whose first answer was lost: it gets the first commit's result
// (without WriteResult.Document) once that commit is durable, and applies nothing.
func (e *Engine) Commit(ctx context.Context, db resource.Database, txnID []byte, writes []Write) (*CommitResult, error) {
	res, err := e.commit(ctx, db, txnID, writes)
	if err != nil {
		return nil, e.settle(ctx, err)
	}
	return res, nil
}

func (e *Engine) commit(ctx context.Context, db resource.Database, txnID []byte, writes []Write) (*CommitResult, error) {
	if len(txnID) == 0 {
		res, _, err := e.sequence(ctx, db, nil, writesDigest{}, writes, true)
		return res, err
	}
	t, settled, err := e.claim(db, txnID)
	if err != nil {
		return nil, err
	}
	if t == nil {
		// Not live: a re-send of a transaction committed earlier, or an invalid transaction.
		if settled != nil {
			// Another Commit of the same transaction is still running; its outcome decides.
			select {
			case <-settled:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return e.resent(ctx, db, txnID, writes)
	}
	// The digest must be taken before sequencing, which may change the writes' fields.
	digest := digestOf(writes)
	if t.readOnly {
		if len(writes) > 0 {
			e.finish(t, nil)
			return nil, errorf(KindInvalidArgument, "a read-only transaction cannot write")
		}
		res := &CommitResult{CommitTime: e.currentReadTime()}
		e.finish(t, &committedTxn{digest: digest, result: res})
		return res, nil
	}
	res, _, err := e.sequence(ctx, db, t, digest, writes, true)
	return res, err
}

// settle holds back the error of a failed Commit until every commit sequenced before it is
// durable, and returns err, or the storage failure that happened meanwhile. The failure may have
// been decided against one of those commits (a precondition, a changed read, a transaction that
// is no longer live because it committed): answering before that commit is durable would let a
// client that re-sent its Commit and then reads back (reads see only durable data) find neither
// outcome, and apply its writes a second time. Tickets complete in submission order, so waiting
// for the newest one covers all earlier ones.
func (e *Engine) settle(ctx context.Context, err error) error {
	e.seqMu.Lock()
	last := e.lastTicket
	e.seqMu.Unlock()
	if last == nil {
		return err
	}
	if !isDone(last) {
		select {
		case <-last.Done():
		case <-ctx.Done():
			// Nobody is left to act on the answer.
			return ctx.Err()
		}
	}
	if serr := last.Err(); serr != nil {
		serr = errorf(KindInternal, "storage failed: %v", serr)
		e.fail(serr)
		return serr
	}
	return err
}

// BatchWrite applies writes independently: each succeeds or fails on its own, and the successful
// ones share one commit time. errs[i] is the failure of writes[i], or nil.
func (e *Engine) BatchWrite(ctx context.Context, db resource.Database, writes []Write) (*CommitResult, []error, error) {
	return e.sequence(ctx, db, nil, writesDigest{}, writes, false)
}

// sequence runs a commit through the sequencer and waits until it is durable. With atomic, any
// failing write fails the whole commit; otherwise failures are reported per write. digest is the
// writes' digest, recorded for re-sends when t commits.
func (e *Engine) sequence(ctx context.Context, db resource.Database, t *Txn, digest writesDigest, writes []Write, atomic bool) (*CommitResult, []error, error) {
	defer func() {
		if t != nil {
			e.finish(t, nil)
		}
	}()
	keys := make([]string, len(writes))
	for i := range writes {
		keys[i] = docKey(db, writes[i].Path)
	}
	if err := e.awaitWriteLocks(ctx, t, keys); err != nil {
		return nil, nil, err
	}
	pre := e.prefetchDocs(db, keys, writes)
	if t != nil {
		e.lockMu.Lock()
		aborted := t.state == stateAborted
		if !aborted {
			t.state = stateCommitting
		}
		e.lockMu.Unlock()
		if aborted {
			return nil, nil, t.abortError()
		}
	}

	e.seqMu.Lock()
	if e.failure != nil {
		err := e.failure
		e.seqMu.Unlock()
		return nil, nil, err
	}
	if t != nil {
		if err := e.validateLocked(ctx, db, t); err != nil {
			e.seqMu.Unlock()
			return nil, nil, err
		}
	}
	commitTime := e.nextCommitTimeLocked()
	staged, results, errs, err := e.stageLocked(db, keys, writes, pre, commitTime, atomic)
	if err != nil {
		e.seqMu.Unlock()
		return nil, nil, err
	}
	batch := &storage.Batch{CommitTime: commitTime}
	for _, s := range staged {
		batch.Writes = append(batch.Writes, storage.Write{DB: db, Path: s.next.Path, Prev: s.prev, Next: *s.next})
	}
	// Even a commit that changes nothing waits for the batches before it: what it read or
	// confirmed may come from them, and it must not be acknowledged before they are durable.
	wait := e.lastTicket
	if len(batch.Writes) > 0 {
		wait = e.submitLocked(batch)
		e.lastTicket = wait
		if e.feed.on.Load() {
			e.appendFeedLocked(batch, wait)
		}
		for _, s := range staged {
			e.pending[s.key] = pendingVersion{version: s.next, ticket: wait}
		}
	}
	e.seqMu.Unlock()
	res := &CommitResult{CommitTime: commitTime, Results: results}
	if t != nil {
		// Release locks now: whoever takes them next waits for this batch before reading.
		e.finish(t, &committedTxn{digest: digest, result: resendResult(res), ticket: wait})
		t = nil
	}

	if wait != nil {
		// The batch is on its way to disk; wait for it even if the caller gave up, so that the
		// pending entries are cleaned up and the engine learns about storage failures.
		if err := waitTicket(context.WithoutCancel(ctx), wait); err != nil {
			e.fail(err)
			return nil, nil, err
		}
		if len(batch.Writes) > 0 {
			e.clearPending(staged, wait)
		}
	}
	return res, errs, nil
}

// submitLocked hands a batch to storage. Caller holds seqMu.
func (e *Engine) submitLocked(b *storage.Batch) ticket {
	tk := e.store.Submit(b)
	if e.holdTicket != nil {
		return e.holdTicket(tk)
	}
	return tk
}

// awaitWriteLocks waits until no other transaction holds a document about to be written.
func (e *Engine) awaitWriteLocks(ctx context.Context, t *Txn, writeKeys []string) error {
	keys := append([]string(nil), writeKeys...)
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 && keys[i-1] == k {
			continue
		}
		if err := e.awaitUnlocked(ctx, t, k); err != nil {
			return err
		}
	}
	return nil
}

// validateLocked checks that nothing t read has changed since: the documents it read still have
// the versions it saw, and the queries it ran still return the same results. Caller holds seqMu.
func (e *Engine) validateLocked(ctx context.Context, db resource.Database, t *Txn) error {
	t.mu.Lock()
	reads := t.reads
	queries := t.queries
	t.mu.Unlock()
	for _, o := range reads {
		cur, err := e.latestLocked(o.db, o.path)
		if err != nil {
			return err
		}
		var ut int64
		if cur != nil {
			ut = cur.UpdateTime
		}
		if ut != o.updateTime {
			return errorf(KindAborted, "transaction aborted: %s changed after the transaction read it; retry it",
				o.db.DocumentName(o.path))
		}
	}
	if len(queries) == 0 {
		return nil
	}
	// Re-run the queries over the newest state. Everything sequenced must be durable first; new
	// commits cannot be sequenced meanwhile because the caller holds seqMu.
	if e.lastTicket != nil {
		if err := waitTicket(context.WithoutCancel(ctx), e.lastTicket); err != nil {
			return err
		}
	}
	snap := e.store.Snapshot(db, e.store.DurableTime())
	for _, q := range queries {
		digest, err := q.rerun(ctx, snap)
		if err != nil {
			return err
		}
		if !bytes.Equal(digest, q.digest) {
			return errorf(KindAborted, "transaction aborted: the result of a query it ran has changed; retry it")
		}
	}
	return nil
}

// stagedWrite is a document's state while a commit is being applied.
type stagedWrite struct {
	key     string
	prev    *storage.Version // newest version before this commit (may be a tombstone or nil)
	next    *storage.Version // state after the writes so far
	changed bool
}

// stageLocked applies writes in order on top of the newest state. It returns the documents that
// changed, in first-write order. Caller holds seqMu.
func (e *Engine) stageLocked(db resource.Database, keys []string, writes []Write, pre *prefetch, commitTime int64, atomic bool) ([]*stagedWrite, []WriteResult, []error, error) {
	results := make([]WriteResult, len(writes))
	var errs []error
	if !atomic {
		errs = make([]error, len(writes))
	}
	byKey := map[string]*stagedWrite{}
	var order []*stagedWrite
	for i := range writes {
		w := &writes[i]
		key := keys[i]
		s, ok := byKey[key]
		if !ok {
			prev, err := e.latestWith(db, key, w.Path, pre)
			if err != nil {
				return nil, nil, nil, err
			}
			s = &stagedWrite{key: key, prev: prev, next: prev}
			byKey[key] = s
		}
		next, changed, res, err := applyWrite(db, w, s.next, commitTime)
		if err != nil {
			if atomic {
				return nil, nil, nil, err
			}
			errs[i] = err
			continue
		}
		results[i] = res
		if changed {
			if !s.changed {
				s.changed = true
				order = append(order, s)
			}
			s.next = next
		}
	}
	return order, results, errs, nil
}

// latestLocked returns the newest version of a document, including one not yet durable. Caller
// holds seqMu.
func (e *Engine) latestLocked(db resource.Database, path []string) (*storage.Version, error) {
	return e.latestWith(db, docKey(db, path), path, nil)
}

func (e *Engine) clearPending(staged []*stagedWrite, ticket ticket) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	for _, s := range staged {
		if p, ok := e.pending[s.key]; ok && p.ticket == ticket {
			delete(e.pending, s.key)
			e.durableLog.record(s.key, p.version.UpdateTime)
		}
	}
}

// fail records a storage failure; from then on the engine refuses writes, because it can no longer
// tell what is durable.
func (e *Engine) fail(err error) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	if e.failure == nil {
		e.failure = err
		e.opts.Logger.Error("storage failed; refusing further writes", "err", err)
	}
}
