package shard_test

// Deterministic lost-answer and multi-server tests: internal/faultinject loses, delays or
// times out chosen Firestore calls of one store. Every test checks that the value is exact
// (each acknowledged increment applied exactly once), that a keyed call whose first attempt
// applied is not answered as a duplicate of itself, and that no error reaches the caller.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/shard"
)

// injectedStore returns a Counters on em whose Firestore calls all go through a new injector.
func injectedStore(t *testing.T, em *emulator.Emulator, opts shard.Options) (*shard.Counters, *faultinject.Injector) {
	t.Helper()
	inj := faultinject.New()
	s, err := shard.New(faultinject.NewClient(t, em.Addr(), "tally-test", inj), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	return s, inj
}

// wantApplied fails the test unless rule fired exactly once on a call the server applied: a
// fault that never fired, or hit a call that failed anyway, would make the test vacuous.
func wantApplied(t *testing.T, rule *faultinject.Rule, what string) {
	t.Helper()
	if n := rule.Fired(); n != 1 {
		t.Fatalf("the fault on %s fired %d times, want 1: the test did not exercise what it is about", what, n)
	}
	if a := rule.Answers(); len(a) != 1 || a[0] != nil {
		t.Fatalf("the server answered the faulted %s with %v; the fault should have hit a commit that applied", what, a)
	}
}

// wantValue checks the value of counter id through every store given.
func wantValue(t *testing.T, id string, want int64, stores ...*shard.Counters) {
	t.Helper()
	for i, s := range stores {
		if got := mustValue(t, s, id); got != want {
			t.Fatalf("value of %q through store %d: %d, want %d", id, i, got, want)
		}
	}
}

// wantRepeatIsDuplicate re-sends a keyed increment that was acknowledged with first: it must be a
// duplicate with the original commit time, which also shows the first call's answer was the
// record's.
func wantRepeatIsDuplicate(t *testing.T, s *shard.Counters, id string, delta int64, key string, first shard.WriteResult) {
	t.Helper()
	r, err := s.Increment(context.Background(), id, delta, key)
	if err != nil || !r.Duplicate || !r.CommitTime.Equal(first.CommitTime) {
		t.Fatalf("repeat of key %q: %+v, %v; want a duplicate with commit time %v", key, r, err, first.CommitTime)
	}
}

// TestLostCoalescedCommitAnswer loses the answer of a plain (coalesced) commit: the client
// library re-sends it, the re-send fails on its preconditions, and the store must find that its
// first send applied.
func TestLostCoalescedCommitAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		key  string
		warm bool // the store already knows the counter and its shards
	}{
		{"keyed, warm cache", "k", true},
		{"unkeyed, warm cache", "", true},
		{"keyed, counter created by the increment", "k", false},
		{"unkeyed, counter created by the increment", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			s, inj := injectedStore(t, em, shard.Options{DefaultShards: 4})
			ctx := context.Background()
			var base int64
			if tt.warm {
				if _, err := s.Create(ctx, "c", 4); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Increment(ctx, "c", 1, ""); err != nil {
					t.Fatal(err)
				}
				base = 1
			}
			// Cold, the first plain commit may be the implicit create of the counter rather than
			// the increment's: losing either answer must be harmless.
			lost := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.LoseAnswer})
			r, err := s.Increment(ctx, "c", 7, tt.key)
			if err != nil {
				t.Fatalf("increment whose commit answer was lost: %v", err)
			}
			if r.Duplicate {
				t.Fatal("the store's own re-sent commit was answered as a duplicate")
			}
			wantApplied(t, lost, "plain commit")
			wantValue(t, "c", base+7, s, storeOn(t, em, shard.Options{}))
			if tt.key != "" {
				wantRepeatIsDuplicate(t, s, "c", 7, tt.key, r)
			}
		})
	}
}

// TestLostTransactionalFallbackAnswer loses the answer of the read-write transaction a store
// falls back to when its conditional commit loses a race. Another store writes the counter's
// only shard first, so the first store's cached version is stale and its conditional commit
// fails. Lost as UNAVAILABLE, the client re-sends the transaction's Commit, which the emulator
// answers with the first result, or which is refused (as a server that no longer knows the
// transaction would); answered ABORTED after applying, RunTransaction runs the store's function
// again. Either way the store must recognise its own applied attempt instead of applying again or
// calling it a duplicate.
func TestLostTransactionalFallbackAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		faults []faultinject.Fault // armed in order; the first is the lost answer
	}{
		{"unavailable", []faultinject.Fault{{Action: faultinject.LoseAnswer}}},
		{"unavailable, re-send refused", []faultinject.Fault{{Action: faultinject.LoseAnswer},
			{Action: faultinject.FailBefore, Code: codes.InvalidArgument}}},
		{"aborted", []faultinject.Fault{{Action: faultinject.LoseAnswer, Code: codes.Aborted}}},
		// RunTransaction then starts another run of the closure, which fails on its first read:
		// the applied run must be found by reading back.
		{"aborted, next run fails", []faultinject.Fault{{Action: faultinject.LoseAnswer, Code: codes.Aborted},
			{Method: faultinject.BatchGetDocuments, Action: faultinject.FailBefore, Code: codes.PermissionDenied, Times: -1}}},
	} {
		for _, key := range []string{"k", ""} {
			t.Run(fmt.Sprintf("%s/key=%q", tt.name, key), func(t *testing.T) {
				t.Parallel()
				em := emulatortest.Start(t, emulator.Options{})
				a, inj := injectedStore(t, em, shard.Options{})
				b := storeOn(t, em, shard.Options{})
				ctx := context.Background()
				if _, err := b.Create(ctx, "c", 1); err != nil {
					t.Fatal(err)
				}
				if _, err := a.Increment(ctx, "c", 1, ""); err != nil { // a caches shard 0's version
					t.Fatal(err)
				}
				if _, err := b.Increment(ctx, "c", 1, ""); err != nil { // and now it is stale
					t.Fatal(err)
				}
				var rules []*faultinject.Rule
				for _, f := range tt.faults {
					if f.Method == "" {
						f.Method, f.If = faultinject.Commit, faultinject.TransactionalCommit
					} else {
						lost := rules[0].Hit() // a read of a transaction after the lost answer
						f.If = func(req any) bool {
							select {
							case <-lost:
								return inTransaction(req)
							default:
								return false
							}
						}
					}
					rules = append(rules, inj.Arm(f))
				}
				r, err := a.Increment(ctx, "c", 5, key)
				for _, rule := range rules {
					rule.Disarm()
				}
				if err != nil {
					t.Fatalf("increment whose transactional commit answer was lost: %v", err)
				}
				if r.Duplicate {
					t.Fatal("the store's own applied transaction was answered as a duplicate")
				}
				if rules[0].Fired() == 0 {
					t.Fatal("no transactional commit was made: the stale cache did not lead to the fallback transaction this test is about")
				}
				wantApplied(t, rules[0], "transactional commit")
				for _, rule := range rules[1:] {
					if rule.Fired() == 0 {
						t.Fatal("the client did not re-send the transaction's commit")
					}
				}
				wantValue(t, "c", 1+1+5, a, b)
				if key != "" {
					wantRepeatIsDuplicate(t, b, "c", 5, key, r)
				}
			})
		}
	}
}

// inTransaction holds for a BatchGetDocuments that reads inside a transaction.
func inTransaction(req any) bool {
	b, ok := req.(*pb.BatchGetDocumentsRequest)
	return ok && (len(b.GetTransaction()) > 0 || b.GetNewTransaction() != nil)
}

// TestLostBatchCommitAnswer loses the answer of a BatchIncrement's commit.
func TestLostBatchCommitAnswer(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"batch-key", ""} {
		t.Run("key="+key, func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2})
			ctx := context.Background()
			for _, id := range []string{"a", "b"} {
				if _, err := s.Increment(ctx, id, 1, ""); err != nil {
					t.Fatal(err)
				}
			}
			deltas := []shard.Delta{{CounterID: "a", Delta: 3}, {CounterID: "b", Delta: 4}, {CounterID: "a", Delta: 1}}
			lost := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.LoseAnswer})
			r, err := s.BatchIncrement(ctx, deltas, key)
			if err != nil {
				t.Fatalf("batch whose commit answer was lost: %v", err)
			}
			if r.Duplicate {
				t.Fatal("the store's own re-sent batch was answered as a duplicate")
			}
			wantApplied(t, lost, "batch commit")
			other := storeOn(t, em, shard.Options{})
			wantValue(t, "a", 1+4, s, other)
			wantValue(t, "b", 1+4, s, other)
			if key != "" {
				again, err := s.BatchIncrement(ctx, deltas, key)
				if err != nil || !again.Duplicate || !again.CommitTime.Equal(r.CommitTime) {
					t.Fatalf("repeat: %+v, %v; want a duplicate with commit time %v", again, err, r.CommitTime)
				}
			}
		})
	}
}

// TestCommitOutlivingCommitTimeout: a commit that applies but whose answer comes after the
// store's CommitTimeout. The keyed call must still succeed: finding out what happened must not
// use the context that has just expired.
func TestCommitOutlivingCommitTimeout(t *testing.T) {
	t.Parallel()
	// Long enough for the setup's commits on a loaded machine, short enough to wait out.
	const commitTimeout = 500 * time.Millisecond
	for _, tt := range []struct {
		name string
		call func(s *shard.Counters) (shard.WriteResult, error)
		want map[string]int64 // values after the call
	}{
		{"increment", func(s *shard.Counters) (shard.WriteResult, error) {
			return s.Increment(context.Background(), "a", 5, "k")
		}, map[string]int64{"a": 1 + 5, "b": 1}},
		{"batch increment", func(s *shard.Counters) (shard.WriteResult, error) {
			return s.BatchIncrement(context.Background(), []shard.Delta{{CounterID: "a", Delta: 5}, {CounterID: "b", Delta: 6}}, "k")
		}, map[string]int64{"a": 1 + 5, "b": 1 + 6}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2, CommitTimeout: commitTimeout})
			ctx := context.Background()
			for _, id := range []string{"a", "b"} {
				if _, err := s.Increment(ctx, id, 1, ""); err != nil {
					t.Fatal(err)
				}
			}
			late := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.ApplyThenTimeout})
			r, err := tt.call(s)
			if err != nil {
				t.Fatalf("keyed call whose commit applied but outlived CommitTimeout: %v", err)
			}
			if r.Duplicate {
				t.Fatal("answered as a duplicate of itself")
			}
			wantApplied(t, late, "commit")
			other := storeOn(t, em, shard.Options{})
			for id, want := range tt.want {
				wantValue(t, id, want, s, other)
			}
		})
	}
}

// waitQueued waits until n increments of counter id wait in s's queue: calls sent one at a time
// and each waited for join the counter's next batch in the order they were sent.
func waitQueued(t *testing.T, s *shard.Counters, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Queued(id) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d increments of %q queued after 10s, want %d", s.Queued(id), id, n)
		}
		runtime.Gosched()
	}
}

// TestSameKeyFollowerIsJudgedByTheRecord: key k already recorded an increment by 5. Two calls
// with k join one batch, Increment(7, k) first and Increment(5, k) second. The first reuses the
// key for another request (ErrKeyReused); the second repeats the recorded request and is a
// duplicate, whatever the first call in the batch with that key was.
func TestSameKeyFollowerIsJudgedByTheRecord(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2})
	ctx := context.Background()
	first, err := s.Increment(ctx, "c", 5, "k")
	if err != nil {
		t.Fatal(err)
	}
	// Hold the answer of a prior commit so that the counter's lane is busy and the next calls
	// queue behind it, in the order they are sent, to be committed as one batch.
	release := make(chan struct{})
	hold := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.DelayAfter, Release: release})
	type answer struct {
		r   shard.WriteResult
		err error
	}
	send := func(delta int64, key string) chan answer {
		ch := make(chan answer, 1)
		go func() {
			r, err := s.Increment(ctx, "c", delta, key)
			ch <- answer{r, err}
		}()
		return ch
	}
	prior := send(1, "")
	<-hold.Hit() // prior's commit is held: the next calls queue behind it
	other := send(7, "k")
	waitQueued(t, s, "c", 1)
	same := send(5, "k")
	waitQueued(t, s, "c", 2)
	close(release)

	if a := <-prior; a.err != nil {
		t.Fatalf("the held call: %v", a.err)
	}
	if a := <-other; !errors.Is(a.err, shard.ErrKeyReused) {
		t.Errorf("Increment(7, k) after k recorded an increment by 5: %+v, %v; want ErrKeyReused", a.r, a.err)
	}
	if a := <-same; a.err != nil || !a.r.Duplicate || !a.r.CommitTime.Equal(first.CommitTime) {
		t.Errorf("Increment(5, k) repeating the recorded request: %+v, %v; want a duplicate with commit time %v", a.r, a.err, first.CommitTime)
	}
	wantValue(t, "c", 5+1, s)
}

// TestTotalOverflowIsRefused: the value is the sum of the shards, so an increment that would take
// the total beyond int64 must be refused even when the shard it would go to has room.
func TestTotalOverflowIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		first, then int64
		key         string
		otherStore  bool // the second increment goes through another store
		warmOther   bool // which already knew the counter
	}{
		{"max then +1", math.MaxInt64, 1, "", false, false},
		{"max then +1 keyed", math.MaxInt64, 1, "k", false, false},
		{"min then -1", math.MinInt64, -1, "", false, false},
		{"max then +1 from another store", math.MaxInt64, 1, "", true, false},
		{"max then +1 from another store with a cached view", math.MaxInt64, 1, "k", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			a := storeOn(t, em, shard.Options{})
			b := storeOn(t, em, shard.Options{})
			ctx := context.Background()
			if _, err := a.Create(ctx, "c", 16); err != nil {
				t.Fatal(err)
			}
			writer := a
			if tt.otherStore {
				writer = b
			}
			if tt.warmOther {
				if _, err := b.Increment(ctx, "c", 0, ""); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := a.Increment(ctx, "c", tt.first, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := writer.Increment(ctx, "c", tt.then, tt.key); !errors.Is(err, shard.ErrOutOfRange) {
				t.Fatalf("increment taking the total beyond int64: %v, want ErrOutOfRange", err)
			}
			for i, s := range []*shard.Counters{a, b} {
				c, err := s.Get(ctx, "c")
				if err != nil || c.Value != tt.first {
					t.Fatalf("get through store %d after the refused increment: %+v, %v; want value %d", i, c, err, tt.first)
				}
			}
			if tt.key != "" {
				// The refused call left no record: the key is free for another request.
				if r, err := writer.Increment(ctx, "c", -tt.then, tt.key); err != nil || r.Duplicate {
					t.Fatalf("reusing the refused call's key: %+v, %v", r, err)
				}
				wantValue(t, "c", tt.first-tt.then, a, b)
			}
		})
	}
}

// TestResizeFoldsWhatGreedyFoldingCannot: shards holding MaxInt64, MaxInt64 and MinInt64 (a state
// increments can reach: MinInt64, then MaxInt64 twice, each on its own shard) total MaxInt64-1,
// which fits; shrinking to one shard must succeed, although folding shard 1 into shard 0 first
// passes the int64 bounds. The shards are written directly, following the layout in
// docs/design.md, and a Get checks that the store reads them as meant.
func TestResizeFoldsWhatGreedyFoldingCannot(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s := storeOn(t, em, shard.Options{})
	ctx := context.Background()
	if _, err := s.Create(ctx, "c", 3); err != nil {
		t.Fatal(err)
	}
	raw := emulatortest.NewClient(t, em.Addr(), "tally-test")
	meta, err := raw.Doc("counters/c").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen := meta.Data()["generation"]
	for i, v := range []int64{math.MaxInt64, math.MaxInt64, math.MinInt64} {
		if _, err := raw.Doc(fmt.Sprintf("counters/c/shards/%d", i)).Set(ctx, map[string]any{"count": v, "generation": gen}); err != nil {
			t.Fatal(err)
		}
	}
	const total = math.MaxInt64 - 1
	if c, err := s.Get(ctx, "c"); err != nil || c.Value != total {
		t.Fatalf("setup: the store reads %+v, %v, want value %d; the shard layout this test writes has changed", c, err, int64(total))
	}
	c, err := s.Resize(ctx, "c", 1)
	if err != nil {
		t.Fatalf("shrinking to one shard a counter whose total fits: %v", err)
	}
	if c.Value != total || c.ShardCount != 1 {
		t.Fatalf("resize answered %+v, want value %d on 1 shard", c, int64(total))
	}
	if c, err := s.Get(ctx, "c"); err != nil || c.Value != total || c.ShardCount != 1 {
		t.Fatalf("after the resize: %+v, %v", c, err)
	}
	if _, err := s.Increment(ctx, "c", 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "c", 1, ""); !errors.Is(err, shard.ErrOutOfRange) {
		t.Fatalf("increment past MaxInt64: %v, want ErrOutOfRange", err)
	}
	wantValue(t, "c", math.MaxInt64, s)
}

// TestKeyedRepeatAfterDeleteElsewhere: a repeat of a keyed increment is a duplicate even after
// another store deleted the counter, and being a duplicate it applies nothing: the counter stays
// deleted, whether the repeating store still caches the counter or has never seen it.
func TestKeyedRepeatAfterDeleteElsewhere(t *testing.T) {
	t.Parallel()
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			a := storeOn(t, em, shard.Options{DefaultShards: 4})
			b := storeOn(t, em, shard.Options{DefaultShards: 4})
			ctx := context.Background()
			first, err := a.Increment(ctx, "c", 1, "k")
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Delete(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			repeater := a
			if !cached {
				repeater = storeOn(t, em, shard.Options{DefaultShards: 4})
			}
			wantRepeatIsDuplicate(t, repeater, "c", 1, "k", first)
			for i, s := range []*shard.Counters{a, b, repeater} {
				if c, err := s.Get(ctx, "c"); !errors.Is(err, shard.ErrNotFound) {
					t.Fatalf("get through store %d after the duplicate: %+v, %v; want ErrNotFound (a duplicate applies nothing)", i, c, err)
				}
			}
		})
	}
}

// TestIncrementsAfterDeleteElsewhereAreKept is the sequence of issue "Exact across replicas":
// store A caches a counter, store B deletes it, A's acknowledged increments must all be in the
// counter's next incarnation. Where A's next write goes is random, so the sequence runs on a few
// counters: on one shard A always writes the shard it knows, on 16 mostly one it has not seen.
func TestIncrementsAfterDeleteElsewhereAreKept(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{16, 1} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			t.Parallel()
			em := emulatortest.Start(t, emulator.Options{})
			a := storeOn(t, em, shard.Options{DefaultShards: shards})
			b := storeOn(t, em, shard.Options{DefaultShards: shards})
			ctx := context.Background()
			for _, id := range []string{"c0", "c1", "c2", "c3"} {
				if _, err := a.Increment(ctx, id, 1, ""); err != nil {
					t.Fatal(err)
				}
				if err := b.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
				var k1 shard.WriteResult
				for i := 1; i <= 5; i++ {
					r, err := a.Increment(ctx, id, 10, fmt.Sprintf("k%d", i))
					if err != nil || r.Duplicate {
						t.Fatalf("%s: increment %d after the delete: %+v, %v", id, i, r, err)
					}
					if i == 1 {
						k1 = r
					}
				}
				if c, err := b.Get(ctx, id); err != nil || c.Value != 50 {
					t.Fatalf("%s: B reads %+v, %v; want 50, the five increments A acknowledged after B's delete", id, c, err)
				}
				wantValue(t, id, 50, a)
				wantRepeatIsDuplicate(t, a, id, 10, "k1", k1)
			}
		})
	}
}

// TestBatchIncrementsFromSeveralStoresOnOneShard: BatchIncrement from several stores on a
// single-shard counter contends on every commit; contention must be resolved (as Increment's
// transactional fallback does), not answered with ErrContention.
func TestBatchIncrementsFromSeveralStoresOnOneShard(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	stores := []*shard.Counters{storeOn(t, em, shard.Options{}), storeOn(t, em, shard.Options{}), storeOn(t, em, shard.Options{})}
	ctx := context.Background()
	if _, err := stores[0].Create(ctx, "c", 1); err != nil {
		t.Fatal(err)
	}
	workers, batches := 4, 30
	if testing.Short() {
		batches = 10
	}
	var mu sync.Mutex
	var applied int64
	failures := map[string]int{}
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range batches {
					key := ""
					if n%2 == 0 {
						key = fmt.Sprintf("s%d-w%d-%d", si, w, n)
					}
					r, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "c", Delta: 1}}, key)
					mu.Lock()
					if err != nil {
						failures[err.Error()]++
					} else if !r.Duplicate {
						applied++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("of %d batches, these failed (message: count): %v", len(stores)*workers*batches, failures)
	}
	if applied != int64(len(stores)*workers*batches) {
		t.Fatalf("%d batches applied, want %d (no duplicates were sent)", applied, len(stores)*workers*batches)
	}
	wantValue(t, "c", applied, stores...)
}
