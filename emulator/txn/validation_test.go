package txn

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tally-dev/tally/emulator/storage"
)

// dropLocks takes transaction id's locks away. Locks only keep transactions from livelocking;
// commit-time validation is what keeps them serializable, so to test validation the test lets a
// write through that a lock would normally hold back.
func dropLocks(t *testing.T, e *Engine, id []byte) {
	t.Helper()
	e.txnMu.Lock()
	tx := e.txns[string(id)]
	e.txnMu.Unlock()
	if tx == nil {
		t.Fatalf("no live transaction %q", id)
	}
	e.lockMu.Lock()
	e.releaseLocked(tx)
	e.lockMu.Unlock()
}

func TestCommitValidatesReadDocuments(t *testing.T) {
	x, missing, other := doc("c", "x"), doc("c", "missing"), doc("c", "other")
	tests := []struct {
		name      string
		read      []string
		change    Write // committed outside the transaction after its read
		wantAbort bool
	}{
		{name: "read document updated", read: x, change: set(2, x...), wantAbort: true},
		{name: "read document deleted", read: x, change: Write{Path: x, Delete: true}, wantAbort: true},
		{name: "missing document created", read: missing, change: set(1, missing...), wantAbort: true},
		{name: "another document updated", read: x, change: set(2, other...)},
		{name: "read document rewritten unchanged", read: x, change: set(1, x...)},
		{name: "missing document deleted again", read: missing, change: Write{Path: missing, Delete: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, Options{})
			commit(t, e, set(1, x...))
			id := begin(t, e, TxnOptions{})
			mustReadIn(t, e, id, tt.read)
			dropLocks(t, e, id)
			commit(t, e, tt.change)

			_, err := e.Commit(context.Background(), testDB, id, []Write{set(7, "c", "out")})
			if !tt.wantAbort {
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				if nOf(latest(t, e, doc("c", "out"))) != 7 {
					t.Errorf("the transaction's write is missing")
				}
				return
			}
			wantKind(t, err, KindAborted)
			if v := latest(t, e, doc("c", "out")); v != nil {
				t.Errorf("the aborted transaction's write is stored: %+v", v)
			}
			// The failed attempt is remembered for its retry, which must be able to run.
			retry := begin(t, e, TxnOptions{RetryOf: id})
			mustReadIn(t, e, retry, tt.read)
			if _, err := e.Commit(context.Background(), testDB, retry, []Write{set(7, "c", "out")}); err != nil {
				t.Fatalf("the retry's commit: %v", err)
			}
		})
	}
}

// countQuery is a query over collection c whose digest is the names and update times of its
// documents, like the gRPC surface's.
func countQuery(ctx context.Context, snap *storage.Snapshot) ([]byte, error) {
	var digest []byte
	for v, err := range snap.Documents(nil, "c", false, nil) {
		if err != nil {
			return nil, err
		}
		digest = append(digest, v.Path[1]...)
		digest = binary.BigEndian.AppendUint64(append(digest, 0), uint64(v.UpdateTime))
	}
	return digest, nil
}

func TestCommitValidatesRecordedQueries(t *testing.T) {
	errRerun := errors.New("rerun failed")
	tests := []struct {
		name     string
		change   []Write // committed outside the transaction after its query
		rerunErr error
		wantKind Kind // 0: the commit succeeds
	}{
		{name: "result unchanged"},
		{name: "other collection changed", change: []Write{set(5, "d", "x")}},
		{name: "matching document rewritten unchanged", change: []Write{set(1, "c", "a")}},
		{name: "document added", change: []Write{set(5, "c", "new")}, wantKind: KindAborted},
		{name: "document changed", change: []Write{set(2, "c", "a")}, wantKind: KindAborted},
		{name: "document deleted", change: []Write{{Path: doc("c", "b"), Delete: true}}, wantKind: KindAborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEngine(t, Options{})
			commit(t, e, set(1, "c", "a"), set(1, "c", "b"))
			id := begin(t, e, TxnOptions{})
			snap, err := e.OpenSnapshot(ctx, testDB, Selector{Transaction: id})
			if err != nil {
				t.Fatalf("OpenSnapshot: %v", err)
			}
			digest, err := countQuery(ctx, snap.Snapshot)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			snap.RecordQuery(digest, countQuery)
			if len(tt.change) > 0 {
				commit(t, e, tt.change...)
			}

			_, err = e.Commit(ctx, testDB, id, []Write{set(7, "out", "x")})
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				return
			}
			wantKind(t, err, tt.wantKind)
			if v := latest(t, e, doc("out", "x")); v != nil {
				t.Errorf("the failed transaction's write is stored: %+v", v)
			}
		})
	}
	t.Run("rerun fails", func(t *testing.T) {
		ctx := context.Background()
		e := newEngine(t, Options{})
		id := begin(t, e, TxnOptions{})
		snap, err := e.OpenSnapshot(ctx, testDB, Selector{Transaction: id})
		if err != nil {
			t.Fatalf("OpenSnapshot: %v", err)
		}
		snap.RecordQuery(nil, func(context.Context, *storage.Snapshot) ([]byte, error) { return nil, errRerun })
		if _, err := e.Commit(ctx, testDB, id, []Write{set(7, "out", "x")}); !errors.Is(err, errRerun) {
			t.Fatalf("Commit error %v, want the rerun's %v", err, errRerun)
		}
		if v := latest(t, e, doc("out", "x")); v != nil {
			t.Errorf("the failed transaction's write is stored: %+v", v)
		}
	})
}

func TestRecordQueryOutsideReadWriteTransactionsIsIgnored(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{})
	ro := begin(t, e, TxnOptions{ReadOnly: true})
	for name, sel := range map[string]Selector{"no transaction": {}, "read-only": {Transaction: ro}} {
		t.Run(name, func(t *testing.T) {
			snap, err := e.OpenSnapshot(ctx, testDB, sel)
			if err != nil {
				t.Fatalf("OpenSnapshot: %v", err)
			}
			snap.RecordQuery([]byte("digest"), func(context.Context, *storage.Snapshot) ([]byte, error) {
				t.Error("a query outside a read-write transaction was re-run")
				return nil, nil
			})
		})
	}
	commit(t, e, set(1, "c", "a"))
	if _, err := e.Commit(ctx, testDB, ro, nil); err != nil {
		t.Fatalf("committing the read-only transaction: %v", err)
	}
}
