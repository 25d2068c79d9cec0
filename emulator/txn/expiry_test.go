package txn

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestTransactionExpiry(t *testing.T) {
	const (
		idle     = 60 * time.Second
		lifetime = 270 * time.Second
	)
	tests := []struct {
		name     string
		readOnly bool
		gaps     []time.Duration // the clock moves by each before the transaction is used again
		failAt   int             // index of the use that must find the transaction expired; -1 none
	}{
		{name: "used before the idle limit", gaps: []time.Duration{idle, idle, idle}, failAt: -1},
		{name: "idle past the limit", gaps: []time.Duration{time.Second, idle + time.Microsecond}, failAt: 1},
		{name: "read-only idle past the limit", readOnly: true, gaps: []time.Duration{idle + time.Microsecond}, failAt: 0},
		{name: "exactly the lifetime", gaps: []time.Duration{50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 20 * time.Second}, failAt: -1},
		{name: "past the lifetime while kept busy", gaps: []time.Duration{50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 21 * time.Second}, failAt: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			e := newEngine(t, Options{Now: clock.Now, TxnIdle: idle, TxnLifetime: lifetime})
			id := begin(t, e, TxnOptions{ReadOnly: tt.readOnly})
			for i, gap := range tt.gaps {
				clock.Advance(gap)
				_, err := readIn(e, id, doc("c", "x"))
				if i != tt.failAt {
					if err != nil {
						t.Fatalf("use %d after %v: %v", i, gap, err)
					}
					continue
				}
				wantKind(t, err, KindInvalidArgument)
				// An expired transaction is gone for good.
				_, err = e.Commit(context.Background(), testDB, id, nil)
				wantKind(t, err, KindInvalidArgument)
				return
			}
			if _, err := e.Commit(context.Background(), testDB, id, nil); err != nil {
				t.Fatalf("Commit of a live transaction: %v", err)
			}
		})
	}
}

func TestExpiredTransactionReleasesItsLocks(t *testing.T) {
	tests := []struct {
		name   string
		expire func(e *Engine, id []byte)
	}{
		{"expired by the background sweep", func(e *Engine, _ []byte) { e.expireIdle() }},
		{"expired on its next use", func(e *Engine, id []byte) { _, _ = readIn(e, id, doc("c", "y")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := newFakeClock()
				const lockWait = time.Second
				e := newEngine(t, Options{Now: clock.Now, LockWait: lockWait})
				x := doc("c", "x")
				holder := begin(t, e, TxnOptions{})
				mustReadIn(t, e, holder, x)
				clock.Advance(61 * time.Second)
				tt.expire(e, holder)

				other := begin(t, e, TxnOptions{})
				start := time.Now()
				mustReadIn(t, e, other, x)
				if waited := time.Since(start); waited != 0 {
					t.Errorf("waited %v for the lock of an expired transaction", waited)
				}
				_, err := readIn(e, holder, x)
				wantKind(t, err, KindInvalidArgument)
			})
		})
	}
}

func TestUnknownTransaction(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{})
	id := begin(t, e, TxnOptions{})
	otherDB := testDB
	otherDB.Database = "other"
	tests := []struct {
		name string
		call func() error
	}{
		{"read with an unknown id", func() error { _, err := readIn(e, []byte("nope"), doc("c", "x")); return err }},
		{"commit with an unknown id", func() error { _, err := e.Commit(ctx, testDB, []byte("nope"), nil); return err }},
		{"read in another database", func() error {
			_, err := e.GetDocuments(ctx, otherDB, Selector{Transaction: id}, [][]string{doc("c", "x")})
			return err
		}},
		{"rollback in another database", func() error { return e.Rollback(otherDB, id) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.call(), KindInvalidArgument) })
	}
	if err := e.Rollback(testDB, []byte("nope")); err != nil {
		t.Errorf("rolling back an unknown transaction: %v, want no error", err)
	}
	if err := e.Rollback(testDB, id); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	_, err := e.Commit(ctx, testDB, id, nil)
	wantKind(t, err, KindInvalidArgument)
}
