package txn

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/value"
)

// resendWrites are a transaction's writes: an increment of c/x, so that applying them twice
// shows, and a set of c/out. Each call builds them anew, as each request of a client does.
func resendWrites() []Write {
	return []Write{
		{Path: doc("c", "x"), HasMask: true, Transforms: []FieldTransform{incrementBy(fp("n"), 1)}},
		set(7, "c", "out"),
	}
}

// beginAndRead begins a transaction that reads c/x, as a read-modify-write does.
func beginAndRead(t testing.TB, e *Engine) []byte {
	t.Helper()
	id := begin(t, e, TxnOptions{})
	mustReadIn(t, e, id, doc("c", "x"))
	return id
}

// sameResult fails unless a re-send's result is the first commit's.
func sameResult(t testing.TB, first, again *CommitResult) {
	t.Helper()
	if again.CommitTime != first.CommitTime || len(again.Results) != len(first.Results) {
		t.Fatalf("re-send answered commit time %d with %d results, want %d with %d",
			again.CommitTime, len(again.Results), first.CommitTime, len(first.Results))
	}
	for i := range first.Results {
		f, a := first.Results[i], again.Results[i]
		if a.UpdateTime != f.UpdateTime || len(a.TransformResults) != len(f.TransformResults) {
			t.Fatalf("result %d: re-send %+v, first %+v", i, a, f)
		}
		for j := range f.TransformResults {
			if !proto.Equal(a.TransformResults[j], f.TransformResults[j]) {
				t.Fatalf("result %d transform %d: re-send %v, first %v", i, j, a.TransformResults[j], f.TransformResults[j])
			}
		}
	}
}

// wantAppliedOnce fails unless c/x was incremented once from 1 and c/out written.
func wantAppliedOnce(t testing.TB, e *Engine) {
	t.Helper()
	if n := nOf(latest(t, e, doc("c", "x"))); n != 2 {
		t.Errorf("c/x has n=%d, want 2: the transaction's writes applied once", n)
	}
	if n := nOf(latest(t, e, doc("c", "out"))); n != 7 {
		t.Errorf("c/out has n=%d, want 7", n)
	}
}

func TestResentCommitOfACommittedTransactionGetsTheFirstResult(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		resends int
	}{
		{"re-sent once", 1},
		{"re-sent three times", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, Options{})
			commit(t, e, set(1, "c", "x"))
			id := beginAndRead(t, e)
			first, err := e.Commit(ctx, testDB, id, resendWrites())
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			for range tt.resends {
				again, err := e.Commit(ctx, testDB, id, resendWrites())
				if err != nil {
					t.Fatalf("re-sent Commit: %v", err)
				}
				sameResult(t, first, again)
			}
			wantAppliedOnce(t, e)
		})
	}
}

func TestResentCommitOfAReadOnlyTransactionGetsTheFirstResult(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{})
	id := begin(t, e, TxnOptions{ReadOnly: true})
	first, err := e.Commit(ctx, testDB, id, nil)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	again, err := e.Commit(ctx, testDB, id, nil)
	if err != nil {
		t.Fatalf("re-sent Commit: %v", err)
	}
	sameResult(t, first, again)
}

// TestCommitThatIsNotAResendStillFails checks that only a Commit with the same writes, of a
// transaction that committed, in its database, is taken for a re-send.
func TestCommitThatIsNotAResendStillFails(t *testing.T) {
	ctx := context.Background()
	otherDB := testDB
	otherDB.Database = "other"
	tests := []struct {
		name string
		// firstFails makes the transaction's first Commit fail: a changed read aborts it.
		firstFails bool
		again      []Write
		againDB    bool // the second Commit names another database
	}{
		{name: "other writes", again: []Write{
			{Path: doc("c", "x"), HasMask: true, Transforms: []FieldTransform{incrementBy(fp("n"), 2)}},
			set(7, "c", "out"),
		}},
		{name: "a write fewer", again: resendWrites()[:1]},
		{name: "a precondition more", again: func() []Write {
			w := resendWrites()
			w[1].Exists = boolPtr(false)
			return w
		}()},
		{name: "another database", again: resendWrites(), againDB: true},
		{name: "the first commit failed", firstFails: true, again: resendWrites()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, Options{})
			commit(t, e, set(1, "c", "x"))
			id := beginAndRead(t, e)
			if tt.firstFails {
				dropLocks(t, e, id)
				commit(t, e, set(1, "c", "other"), set(5, "c", "x"))
				_, err := e.Commit(ctx, testDB, id, resendWrites())
				wantKind(t, err, KindAborted)
			} else if _, err := e.Commit(ctx, testDB, id, resendWrites()); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			db := testDB
			if tt.againDB {
				db = otherDB
			}
			before := latest(t, e, doc("c", "x"))
			_, err := e.Commit(ctx, db, id, tt.again)
			wantKind(t, err, KindInvalidArgument)
			if after := latest(t, e, doc("c", "x")); after.UpdateTime != before.UpdateTime {
				t.Errorf("the failed Commit changed c/x from %+v to %+v", before, after)
			}
		})
	}
}

// TestResentCommitWaitsUntilTheFirstIsDurable checks a re-send that arrives while the first
// Commit's batch is not durable yet is answered only once it is: the client may read back next.
func TestResentCommitWaitsUntilTheFirstIsDurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, Options{})
		commit(t, e, set(1, "c", "x"))
		id := beginAndRead(t, e)
		held := holdDurability(t, e)
		first := commitAsync(e, id, resendWrites()...)
		h := <-held
		again := commitAsync(e, id, resendWrites()...)
		synctest.Wait()
		if r, ok := ready(again); ok {
			t.Fatalf("the re-send was answered (%+v, %v) before the first commit was durable", r.res, r.err)
		}
		h.releaseWith(nil)
		f, a := <-first, <-again
		if f.err != nil || a.err != nil {
			t.Fatalf("first commit: %v; re-send: %v", f.err, a.err)
		}
		sameResult(t, f.res, a.res)
		wantAppliedOnce(t, e)
	})
}

// TestConcurrentCommitsOfOneTransactionCommitItOnce sends the same Commit several times at once,
// as a client does that re-sends while its first attempt is still running: exactly one commits,
// and all get its result.
func TestConcurrentCommitsOfOneTransactionCommitItOnce(t *testing.T) {
	const senders = 8
	e := newEngine(t, Options{})
	commit(t, e, set(1, "c", "x"))
	id := beginAndRead(t, e)
	start := make(chan struct{})
	results := make([]*CommitResult, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			writes := resendWrites()
			<-start
			results[i], errs[i] = e.Commit(context.Background(), testDB, id, writes)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sender %d: %v", i, err)
		}
		sameResult(t, results[0], results[i])
	}
	wantAppliedOnce(t, e)
}

// TestCommittedTransactionsAreRememberedBoundedly checks the record of committed transactions
// keeps a re-send recognisable for a while, but not forever and not without limit.
func TestCommittedTransactionsAreRememberedBoundedly(t *testing.T) {
	rec := &committedTxn{digest: digestOf(nil), result: &CommitResult{CommitTime: 1}}
	remembered := func(e *Engine, id string) bool {
		e.txnMu.Lock()
		defer e.txnMu.Unlock()
		l := e.committed[testDB]
		return l != nil && (l.cur[id] != nil || l.prev[id] != nil)
	}
	t.Run("by count", func(t *testing.T) {
		e := newEngine(t, Options{})
		e.txnMu.Lock()
		e.recordCommitLocked(testDB, "first", rec)
		for i := range committedPerGeneration - 1 {
			e.recordCommitLocked(testDB, fmt.Sprint("a", i), rec)
		}
		e.txnMu.Unlock()
		if !remembered(e, "first") {
			t.Fatalf("forgotten after %d commits", committedPerGeneration-1)
		}
		e.txnMu.Lock()
		for i := range committedPerGeneration {
			e.recordCommitLocked(testDB, fmt.Sprint("b", i), rec)
		}
		l := e.committed[testDB]
		size := len(l.cur) + len(l.prev)
		e.txnMu.Unlock()
		if remembered(e, "first") {
			t.Errorf("still remembered after %d commits", 2*committedPerGeneration-1)
		}
		if size > 2*committedPerGeneration {
			t.Errorf("%d transactions remembered, want at most %d", size, 2*committedPerGeneration)
		}
	})
	t.Run("by age", func(t *testing.T) {
		clock := newFakeClock()
		e := newEngine(t, Options{Now: clock.Now})
		e.txnMu.Lock()
		e.recordCommitLocked(testDB, "first", rec)
		e.txnMu.Unlock()
		for _, step := range []time.Duration{committedGeneration / 2, committedGeneration / 2} {
			clock.Advance(step)
			e.expireIdle()
			if !remembered(e, "first") {
				t.Fatalf("forgotten within %v of committing", committedGeneration)
			}
		}
		clock.Advance(committedGeneration)
		e.expireIdle()
		if remembered(e, "first") {
			t.Errorf("still remembered %v after it committed", 2*committedGeneration)
		}
		e.txnMu.Lock()
		defer e.txnMu.Unlock()
		if len(e.committed) != 0 {
			t.Errorf("a database with nothing to remember is still kept: %v", e.committed)
		}
	})
}

func TestWritesDigest(t *testing.T) {
	base := func() Write {
		return Write{Path: doc("c", "a"), Fields: map[string]*pb.Value{"n": intV(1), "s": strV("x")}}
	}
	with := func(change func(w *Write)) []Write {
		w := base()
		change(&w)
		return []Write{w}
	}
	tests := []struct {
		name string
		a, b []Write
		same bool
	}{
		{name: "same writes", a: with(func(*Write) {}), b: with(func(*Write) {}), same: true},
		{name: "no writes", a: nil, b: []Write{}, same: true},
		{name: "fields built in another order", a: with(func(*Write) {}), same: true, b: with(func(w *Write) {
			w.Fields = map[string]*pb.Value{}
			w.Fields["s"], w.Fields["n"] = strV("x"), intV(1)
		})},
		{name: "another value", a: with(func(*Write) {}), b: with(func(w *Write) { w.Fields["n"] = intV(2) })},
		{name: "another path", a: with(func(*Write) {}), b: with(func(w *Write) { w.Path = doc("c", "b") })},
		{name: "path split elsewhere", a: with(func(w *Write) { w.Path = doc("ab", "c") }), b: with(func(w *Write) { w.Path = doc("a", "bc") })},
		{name: "delete", a: with(func(*Write) {}), b: with(func(w *Write) { w.Delete = true })},
		{name: "masked", a: with(func(*Write) {}), b: with(func(w *Write) { w.HasMask = true })},
		{name: "mask paths", a: with(func(w *Write) { w.HasMask, w.Mask = true, []value.FieldPath{fp("n")} }),
			b: with(func(w *Write) { w.HasMask, w.Mask = true, []value.FieldPath{fp("s")} })},
		{name: "transform", a: with(func(*Write) {}), b: with(func(w *Write) { w.Transforms = []FieldTransform{incrementBy(fp("n"), 1)} })},
		{name: "transform amount", a: with(func(w *Write) { w.Transforms = []FieldTransform{incrementBy(fp("n"), 1)} }),
			b: with(func(w *Write) { w.Transforms = []FieldTransform{incrementBy(fp("n"), 2)} })},
		{name: "exists precondition", a: with(func(*Write) {}), b: with(func(w *Write) { w.Exists = boolPtr(true) })},
		{name: "exists or not", a: with(func(w *Write) { w.Exists = boolPtr(false) }), b: with(func(w *Write) { w.Exists = boolPtr(true) })},
		{name: "update time precondition", a: with(func(*Write) {}), b: with(func(w *Write) { w.UpdateTime = 5 })},
		{name: "one write more", a: with(func(*Write) {}), b: append(with(func(*Write) {}), base())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := digestOf(tt.a), digestOf(tt.b)
			if !a.ok || !b.ok {
				t.Fatalf("digests not computed: %v, %v", a.ok, b.ok)
			}
			if (a.sum == b.sum) != tt.same {
				t.Errorf("digests equal = %v, want %v", a.sum == b.sum, tt.same)
			}
		})
	}
}
