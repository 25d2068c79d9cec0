package txn

import (
	"context"
	"testing"
	"time"
)

func TestReadOnlyTransactionReadsAtItsTime(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := newEngine(t, Options{Now: clock.Now})
	x, y := doc("c", "x"), doc("c", "y")

	first := commit(t, e, set(1, x...)).CommitTime
	clock.Advance(time.Second)
	atBegin := begin(t, e, TxnOptions{ReadOnly: true})
	beforeFirst := begin(t, e, TxnOptions{ReadOnly: true, ReadTime: first - 1})
	atFirst := begin(t, e, TxnOptions{ReadOnly: true, ReadTime: first})
	clock.Advance(time.Second)
	second := commit(t, e, set(2, x...), set(1, y...)).CommitTime
	clock.Advance(time.Second)
	atSecond := begin(t, e, TxnOptions{ReadOnly: true, ReadTime: second})
	commit(t, e, set(3, x...), Write{Path: y, Delete: true})

	tests := []struct {
		name         string
		id           []byte
		wantX, wantY int64 // -1: absent
	}{
		{"begun between the commits", atBegin, 1, -1},
		{"read time before the first commit", beforeFirst, -1, -1},
		{"read time at the first commit", atFirst, 1, -1},
		{"read time at the second commit", atSecond, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var readTimes []int64
			for range 2 { // the same answer every time
				res, err := e.GetDocuments(ctx, testDB, Selector{Transaction: tt.id}, [][]string{x, y})
				if err != nil {
					t.Fatalf("GetDocuments: %v", err)
				}
				if gx, gy := nOf(res.Versions[0]), nOf(res.Versions[1]); gx != tt.wantX || gy != tt.wantY {
					t.Errorf("read x=%d y=%d, want x=%d y=%d", gx, gy, tt.wantX, tt.wantY)
				}
				readTimes = append(readTimes, res.ReadTime)
				clock.Advance(time.Second)
			}
			snap, err := e.OpenSnapshot(ctx, testDB, Selector{Transaction: tt.id})
			if err != nil {
				t.Fatalf("OpenSnapshot: %v", err)
			}
			readTimes = append(readTimes, snap.ReadTime())
			if v, err := snap.Get(x); err != nil || nOf(v) != tt.wantX {
				t.Errorf("snapshot read x = %+v, %v; want n=%d", v, err, tt.wantX)
			}
			for _, rt := range readTimes[1:] {
				if rt != readTimes[0] {
					t.Errorf("read times %v differ", readTimes)
				}
			}
			if _, err := e.Commit(ctx, testDB, tt.id, nil); err != nil {
				t.Errorf("committing a read-only transaction: %v", err)
			}
		})
	}
}

func TestReadOnlyTransactionCannotWrite(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{})
	id := begin(t, e, TxnOptions{ReadOnly: true})
	_, err := e.Commit(ctx, testDB, id, []Write{set(1, "c", "x")})
	wantKind(t, err, KindInvalidArgument)
	if v := latest(t, e, doc("c", "x")); v != nil {
		t.Errorf("a read-only transaction wrote %+v", v)
	}
}

func TestReadOnlyTransactionTakesNoLocks(t *testing.T) {
	e := newEngine(t, Options{})
	x := doc("c", "x")
	ro := begin(t, e, TxnOptions{ReadOnly: true})
	mustReadIn(t, e, ro, x)
	e.lockMu.Lock()
	n := len(e.locks)
	e.lockMu.Unlock()
	if n != 0 {
		t.Errorf("%d locks held after a read-only read, want 0", n)
	}
}

func TestReadTimeValidation(t *testing.T) {
	const retention = time.Hour
	tests := []struct {
		name     string
		offset   time.Duration // requested read time relative to now
		wantKind Kind
	}{
		{name: "now", offset: 0},
		{name: "a minute ago", offset: -time.Minute},
		{name: "oldest retained", offset: -retention},
		{name: "future", offset: time.Microsecond, wantKind: KindInvalidArgument},
		{name: "far future", offset: 24 * time.Hour, wantKind: KindInvalidArgument},
		{name: "just too old", offset: -retention - time.Microsecond, wantKind: KindFailedPrecondition},
		{name: "far too old", offset: -48 * time.Hour, wantKind: KindFailedPrecondition},
	}
	paths := []struct {
		name string
		read func(e *Engine, readTime int64) error
	}{
		{"GetDocuments", func(e *Engine, rt int64) error {
			_, err := e.GetDocuments(context.Background(), testDB, Selector{ReadTime: rt}, [][]string{doc("c", "x")})
			return err
		}},
		{"OpenSnapshot", func(e *Engine, rt int64) error {
			_, err := e.OpenSnapshot(context.Background(), testDB, Selector{ReadTime: rt})
			return err
		}},
		{"Begin read-only", func(e *Engine, rt int64) error {
			_, err := e.Begin(context.Background(), testDB, TxnOptions{ReadOnly: true, ReadTime: rt})
			return err
		}},
		{"new read-only transaction", func(e *Engine, rt int64) error {
			sel := Selector{NewTransaction: &TxnOptions{ReadOnly: true, ReadTime: rt}}
			_, err := e.GetDocuments(context.Background(), testDB, sel, [][]string{doc("c", "x")})
			return err
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					clock := newFakeClock()
					e := newEngine(t, Options{Now: clock.Now, VersionRetention: retention})
					err := p.read(e, clock.Now().Add(tt.offset).UnixMicro())
					if tt.wantKind == 0 {
						if err != nil {
							t.Fatalf("read: %v", err)
						}
						return
					}
					wantKind(t, err, tt.wantKind)
				})
			}
		})
	}
}

func TestReadAtReadTime(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := newEngine(t, Options{Now: clock.Now})
	x := doc("c", "x")
	first := commit(t, e, set(1, x...)).CommitTime
	clock.Advance(time.Second)
	second := commit(t, e, set(2, x...)).CommitTime
	clock.Advance(time.Second)
	tests := []struct {
		name     string
		readTime int64
		wantN    int64
	}{
		{"before the first commit", first - 1, -1},
		{"at the first commit", first, 1},
		{"between the commits", second - 1, 1},
		{"at the second commit", second, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.GetDocuments(ctx, testDB, Selector{ReadTime: tt.readTime}, [][]string{x})
			if err != nil {
				t.Fatalf("GetDocuments: %v", err)
			}
			if nOf(res.Versions[0]) != tt.wantN || res.ReadTime != tt.readTime {
				t.Errorf("read %+v at %d, want n=%d at %d", res.Versions[0], res.ReadTime, tt.wantN, tt.readTime)
			}
		})
	}
	// A read at a time reserves it: a later commit, even with the clock behind, comes after it.
	now := clock.Now().UnixMicro()
	if _, err := e.GetDocuments(ctx, testDB, Selector{ReadTime: now}, [][]string{x}); err != nil {
		t.Fatalf("GetDocuments: %v", err)
	}
	clock.Advance(-time.Minute)
	if ct := commit(t, e, set(3, x...)).CommitTime; ct <= now {
		t.Errorf("commit at %d, not after the read time %d served before it", ct, now)
	}
}
