package txn

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/tally-dev/tally/emulator/storage"
)

// These tests hold a commit's batch back from durability (holdDurability) and run in a synctest
// bubble, where synctest.Wait tells when every goroutine is blocked: a Commit that has not
// answered by then is waiting.

// TestFailedCommitWaitsForTheCommitsBeforeIt checks that a Commit failing against a commit that
// is sequenced but not yet durable is not answered before that commit is durable. Otherwise a
// client whose first Commit's answer was lost, and whose re-send then fails against the first
// send's write, would read back (reads see only durable data), not find its first attempt, and
// apply its writes again.
func TestFailedCommitWaitsForTheCommitsBeforeIt(t *testing.T) {
	x := doc("c", "x")
	tests := []struct {
		name string
		// setup runs before durability is held; it returns the transaction the second commit
		// runs in, or nil.
		setup func(t *testing.T, e *Engine) []byte
		// first is sequenced but held back from durability; txn is setup's transaction.
		first func(e *Engine, txn []byte) <-chan commitOutcome
		// second fails against first; before is c/x as it was durable before first.
		second   func(before *storage.Version) []Write
		wantKind Kind
	}{
		{
			name:  "create of a document a pending commit created",
			first: func(e *Engine, _ []byte) <-chan commitOutcome { return commitAsync(e, nil, set(1, x...)) },
			second: func(*storage.Version) []Write {
				return []Write{{Path: x, Fields: fieldsN(2), Exists: boolPtr(false)}}
			},
			wantKind: KindAlreadyExists,
		},
		{
			name:  "update of a document a pending commit deleted",
			setup: func(t *testing.T, e *Engine) []byte { commit(t, e, set(1, x...)); return nil },
			first: func(e *Engine, _ []byte) <-chan commitOutcome {
				return commitAsync(e, nil, Write{Path: x, Delete: true})
			},
			second: func(*storage.Version) []Write {
				return []Write{{Path: x, Fields: fieldsN(2), Exists: boolPtr(true)}}
			},
			wantKind: KindNotFound,
		},
		{
			name:  "update_time precondition a pending commit broke",
			setup: func(t *testing.T, e *Engine) []byte { commit(t, e, set(1, x...)); return nil },
			first: func(e *Engine, _ []byte) <-chan commitOutcome { return commitAsync(e, nil, set(2, x...)) },
			// The precondition names the durable version, which the pending commit replaced.
			second: func(before *storage.Version) []Write {
				return []Write{{Path: x, Fields: fieldsN(3), UpdateTime: before.UpdateTime}}
			},
			wantKind: KindFailedPrecondition,
		},
		{
			name: "transaction whose read a pending commit changed",
			setup: func(t *testing.T, e *Engine) []byte {
				commit(t, e, set(1, x...))
				id := begin(t, e, TxnOptions{})
				mustReadIn(t, e, id, x)
				dropLocks(t, e, id)
				return id
			},
			first:    func(e *Engine, _ []byte) <-chan commitOutcome { return commitAsync(e, nil, set(2, x...)) },
			second:   func(*storage.Version) []Write { return []Write{set(7, "c", "out")} },
			wantKind: KindAborted,
		},
		{
			name: "transaction a pending commit committed, committed again with other writes",
			setup: func(t *testing.T, e *Engine) []byte {
				id := begin(t, e, TxnOptions{})
				mustReadIn(t, e, id, x)
				return id
			},
			first:    func(e *Engine, id []byte) <-chan commitOutcome { return commitAsync(e, id, set(1, x...)) },
			second:   func(*storage.Version) []Write { return []Write{set(2, x...)} },
			wantKind: KindInvalidArgument,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(t, Options{})
				var id []byte
				if tt.setup != nil {
					id = tt.setup(t, e)
				}
				second := tt.second(latest(t, e, x))
				held := holdDurability(t, e)

				first := tt.first(e, id)
				h := <-held
				out := commitAsync(e, id, second...)
				synctest.Wait()
				if r, ok := ready(out); ok {
					t.Fatalf("the second commit was answered (%v) before the commit it failed against was durable", r.err)
				}

				h.releaseWith(nil)
				if r := <-first; r.err != nil {
					t.Fatalf("the first commit: %v", r.err)
				}
				wantKind(t, (<-out).err, tt.wantKind)
			})
		})
	}
}

// TestFailedCommitReportsAStorageFailureMeanwhile checks that when a commit that a failed Commit
// waits for fails in storage, the Commit reports the storage failure: its outcome is not known.
func TestFailedCommitReportsAStorageFailureMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := doc("c", "x")
		e := newEngine(t, Options{})
		held := holdDurability(t, e)
		first := commitAsync(e, nil, set(1, x...))
		h := <-held
		out := commitAsync(e, nil, Write{Path: x, Fields: fieldsN(2), Exists: boolPtr(false)})
		synctest.Wait()
		if r, ok := ready(out); ok {
			t.Fatalf("the second commit was answered (%v) before the first was durable", r.err)
		}
		h.releaseWith(errors.New("disk full"))
		wantKind(t, (<-first).err, KindInternal)
		wantKind(t, (<-out).err, KindInternal)
		_, err := e.Commit(context.Background(), testDB, nil, []Write{set(3, "c", "y")})
		wantKind(t, err, KindInternal)
	})
}
