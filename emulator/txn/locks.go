package txn

import (
	"context"
	"time"
)

// Locks keep read-write transactions from livelocking each other; they are not what makes
// transactions serializable (commit-time validation does that). The policy is wound-wait: a
// transaction that wants a document held by a younger transaction aborts ("wounds") the younger
// one; one that wants a document held by an older transaction waits. Because a retried
// transaction keeps the age of its first attempt, every transaction eventually becomes the oldest
// and wins. A waiter never waits longer than lockWait: after that it wounds the holder whatever its
// age, so an abandoned transaction cannot stall anyone.

// lock is the exclusive lock on one document.
type lock struct {
	holder   *Txn
	released chan struct{} // closed when holder lets go
}

// acquire takes the lock on key for t, waiting or wounding as the policy says.
func (e *Engine) acquire(ctx context.Context, t *Txn, key string) error {
	deadline := time.NewTimer(e.opts.LockWait)
	defer deadline.Stop()
	expired := false
	for {
		e.lockMu.Lock()
		if t.state == stateAborted {
			e.lockMu.Unlock()
			return t.abortError()
		}
		l := e.locks[key]
		if l == nil {
			e.locks[key] = &lock{holder: t, released: make(chan struct{})}
			t.held[key] = struct{}{}
			e.lockMu.Unlock()
			return nil
		}
		if l.holder == t {
			e.lockMu.Unlock()
			return nil
		}
		if l.holder.state == stateActive && (expired || t.olderThan(l.holder)) {
			reason := "an older transaction needed a document it had locked"
			if expired {
				reason = "it held a lock that another transaction waited on for " + e.opts.LockWait.String()
			}
			e.woundLocked(l.holder, reason)
			e.lockMu.Unlock()
			continue
		}
		released, wounded := l.released, t.wounded
		e.lockMu.Unlock()
		if err := e.wait(ctx, released, wounded, deadline.C, &expired); err != nil {
			return err
		}
	}
}

// awaitUnlocked returns once no other live transaction holds key, wounding a holder that keeps it
// past lockWait. Writes use it for documents they do not hold: blind writes outside transactions,
// which hold no locks and so cannot be part of a wait cycle, and a transaction's writes to
// documents it never read, which follow wound-wait.
func (e *Engine) awaitUnlocked(ctx context.Context, self *Txn, key string) error {
	deadline := time.NewTimer(e.opts.LockWait)
	defer deadline.Stop()
	expired := false
	for {
		e.lockMu.Lock()
		if self != nil && self.state == stateAborted {
			e.lockMu.Unlock()
			return self.abortError()
		}
		l := e.locks[key]
		if l == nil || l.holder == self {
			e.lockMu.Unlock()
			return nil
		}
		// A transaction writing a document it never read still holds locks on what it did read,
		// so it follows wound-wait like acquire does, or two transactions could wait on each other.
		if l.holder.state == stateActive && (expired || (self != nil && self.olderThan(l.holder))) {
			reason := "an older transaction needed to write a document it had locked"
			if expired {
				reason = "it held a lock that a write waited on for " + e.opts.LockWait.String()
			}
			e.woundLocked(l.holder, reason)
			e.lockMu.Unlock()
			continue
		}
		released := l.released
		var wounded chan struct{}
		if self != nil {
			wounded = self.wounded
		}
		e.lockMu.Unlock()
		if err := e.wait(ctx, released, wounded, deadline.C, &expired); err != nil {
			return err
		}
	}
}

// wait blocks until the lock is released, the waiter is wounded, the lock wait expires (setting
// *expired) or ctx ends.
func (e *Engine) wait(ctx context.Context, released, wounded <-chan struct{}, deadline <-chan time.Time, expired *bool) error {
	if *expired {
		deadline = nil
	}
	select {
	case <-released:
	case <-wounded:
	case <-deadline:
		*expired = true
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// woundLocked aborts t and frees its locks. Caller holds lockMu.
func (e *Engine) woundLocked(t *Txn, reason string) {
	t.state = stateAborted
	t.abortReason = reason
	close(t.wounded)
	e.releaseLocked(t)
}

// releaseLocked frees every lock t holds. Caller holds lockMu.
func (e *Engine) releaseLocked(t *Txn) {
	for key := range t.held {
		if l := e.locks[key]; l != nil && l.holder == t {
			close(l.released)
			delete(e.locks, key)
		}
	}
	clear(t.held)
}
