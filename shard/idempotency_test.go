package shard_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/ttl"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/shard"
)

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	first, err := s.Increment(ctx, "c", 5, "key-1")
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := s.Increment(ctx, "c", 5, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || !again.CommitTime.Equal(first.CommitTime) {
		t.Fatalf("repeat: %+v, want a duplicate with commit time %v", again, first.CommitTime)
	}
	if _, err := s.Increment(ctx, "c", 6, "key-1"); !errors.Is(err, shard.ErrKeyReused) {
		t.Fatalf("same key, other delta: %v, want ErrKeyReused", err)
	}
	if _, err := s.Reset(ctx, "c", "key-1"); !errors.Is(err, shard.ErrKeyReused) {
		t.Fatalf("increment key reused for a reset: %v, want ErrKeyReused", err)
	}
	if _, err := s.Increment(ctx, "other", 5, "key-1"); err != nil {
		t.Fatalf("the same key on another counter is another request: %v", err)
	}
	if got := mustValue(t, s, "c"); got != 5 {
		t.Fatalf("value %d, want 5", got)
	}
}

func TestConcurrentRetriesOfOneKeyApplyOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	const tries = 32
	var wg sync.WaitGroup
	var applied, duplicates atomic.Int64
	for range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Increment(ctx, "c", 3, "same")
			if err != nil {
				t.Error(err)
				return
			}
			if r.Duplicate {
				duplicates.Add(1)
			} else {
				applied.Add(1)
			}
		}()
	}
	wg.Wait()
	if applied.Load() != 1 || duplicates.Load() != tries-1 {
		t.Fatalf("%d applied, %d duplicates; want 1 and %d", applied.Load(), duplicates.Load(), tries-1)
	}
	if got := mustValue(t, s, "c"); got != 3 {
		t.Fatalf("value %d, want 3", got)
	}
}

func TestLostCommitAnswersCountOnce(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"with-key", ""} {
		t.Run("key="+key, func(t *testing.T) {
			em := emulatortest.Start(t, emulator.Options{})
			inj := faultinject.New()
			s, err := shard.New(faultinject.NewClient(t, em.Addr(), "tally-test", inj), shard.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			// Lose the answer of the create, which must still succeed: the client library re-sends
			// the applied commit, which then fails.
			lost := inj.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.LoseAnswer})
			if _, err := s.Create(ctx, "c", 4); err != nil {
				t.Fatalf("create whose first answer was lost: %v", err)
			}
			if lost.Fired() != 1 {
				t.Fatalf("%d answers lost during create, want 1", lost.Fired())
			}
			// And the answer of the increment.
			lost = inj.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.LoseAnswer})
			r, err := s.Increment(ctx, "c", 7, key)
			if err != nil {
				t.Fatalf("increment whose first answer was lost: %v", err)
			}
			if r.Duplicate {
				t.Fatalf("the store's own re-sent commit was reported as a duplicate")
			}
			if lost.Fired() != 1 || inj.Injected() != 2 {
				t.Fatalf("%d answers lost in all, want 2; the test did not exercise the increment", inj.Injected())
			}
			if a := lost.Answers(); len(a) != 1 || a[0] != nil {
				t.Fatalf("the lost increment commit was answered %v by the server; it should have applied", a)
			}
			if got := mustValue(t, s, "c"); got != 7 {
				t.Fatalf("value %d, want 7 (applied exactly once)", got)
			}
		})
	}
}

func TestBatchIncrementIsAtomic(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	deltas := []shard.Delta{{CounterID: "a", Delta: 1}, {CounterID: "b", Delta: 2}, {CounterID: "a", Delta: 3}}
	r, err := s.BatchIncrement(ctx, deltas, "batch-1")
	if err != nil || r.Duplicate {
		t.Fatalf("batch: %+v, %v", r, err)
	}
	again, err := s.BatchIncrement(ctx, []shard.Delta{deltas[2], deltas[1], deltas[0]}, "batch-1")
	if err != nil || !again.Duplicate || !again.CommitTime.Equal(r.CommitTime) {
		t.Fatalf("the same batch reordered: %+v, %v; want a duplicate", again, err)
	}
	if _, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "a", Delta: 9}, {CounterID: "b", Delta: 2}}, "batch-1"); !errors.Is(err, shard.ErrKeyReused) {
		t.Fatalf("another batch of the same counters with the key: %v, want ErrKeyReused", err)
	}
	if a, b := mustValue(t, s, "a"), mustValue(t, s, "b"); a != 4 || b != 2 {
		t.Fatalf("a=%d b=%d, want 4 and 2", a, b)
	}

	if _, err := s.Create(ctx, "full", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "full", math.MaxInt64, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.BatchIncrement(ctx, []shard.Delta{{CounterID: "a", Delta: 100}, {CounterID: "full", Delta: 1}}, "")
	if !errors.Is(err, shard.ErrOutOfRange) {
		t.Fatalf("batch with an overflowing counter: %v, want ErrOutOfRange", err)
	}
	if got := mustValue(t, s, "a"); got != 4 {
		t.Fatalf("a=%d after a failed batch, want 4: nothing may apply", got)
	}
}

// TestBatchKeysAreScopedToTheirCounters: a BatchIncrement's key is scoped to the set of counters
// the batch names. The same key on a disjoint set (another tenant's counters), or on an
// overlapping but different set, is another batch and applies; the same key on the same set, in
// any order and with names repeated, is a duplicate; different deltas on the same set fail.
func TestBatchKeysAreScopedToTheirCounters(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s := storeOn(t, em, shard.Options{})
	ctx := context.Background()
	const key = "order-1001"
	first, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "b-x", Delta: 1}}, key)
	if err != nil || first.Duplicate {
		t.Fatalf("first batch: %+v, %v", first, err)
	}
	a := []shard.Delta{{CounterID: "a-orders", Delta: 5}, {CounterID: "a-items", Delta: 2}, {CounterID: "a-orders", Delta: 1}}
	r, err := s.BatchIncrement(ctx, a, key)
	if err != nil || r.Duplicate {
		t.Fatalf("the key on a disjoint set of counters: %+v, %v; want applied", r, err)
	}
	// The same set: reordered, split and repeated differently, with the same totals.
	same := []shard.Delta{{CounterID: "a-items", Delta: 1}, {CounterID: "a-orders", Delta: 6}, {CounterID: "a-items", Delta: 1}, {CounterID: "a-orders", Delta: 0}}
	again, err := s.BatchIncrement(ctx, same, key)
	if err != nil || !again.Duplicate || !again.CommitTime.Equal(r.CommitTime) {
		t.Fatalf("the same batch of the same set: %+v, %v; want a duplicate of %v", again, err, r.CommitTime)
	}
	// Another server finds the same record.
	other := storeOn(t, em, shard.Options{})
	if again, err := other.BatchIncrement(ctx, same, key); err != nil || !again.Duplicate {
		t.Fatalf("the same batch on another server: %+v, %v; want a duplicate", again, err)
	}
	if _, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "a-orders", Delta: 7}, {CounterID: "a-items", Delta: 2}}, key); !errors.Is(err, shard.ErrKeyReused) {
		t.Fatalf("other deltas on the same set with the key: %v, want ErrKeyReused", err)
	}
	// A superset and a subset are other sets.
	if r, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "a-orders", Delta: 10}}, key); err != nil || r.Duplicate {
		t.Fatalf("the key on a subset: %+v, %v; want applied", r, err)
	}
	if r, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "b-x", Delta: 1}, {CounterID: "a-items", Delta: 100}}, key); err != nil || r.Duplicate {
		t.Fatalf("the key on an overlapping set: %+v, %v; want applied", r, err)
	}
	// The first batch is still known under its own set.
	if r, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "b-x", Delta: 1}, {CounterID: "b-x", Delta: 0}}, key); err != nil || !r.Duplicate {
		t.Fatalf("the first batch repeated: %+v, %v; want a duplicate", r, err)
	}
	for id, want := range map[string]int64{"b-x": 2, "a-orders": 16, "a-items": 102} {
		if got := mustValue(t, s, id); got != want {
			t.Errorf("%s = %d, want %d", id, got, want)
		}
	}
}

// TestDuplicateKeysDoNotFailTheirBatch sends, at once, calls repeating keys used before and
// calls with fresh keys, so that they share commits: the repeats must be answered as duplicates
// and every fresh call applied.
func TestDuplicateKeysDoNotFailTheirBatch(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{MaxInFlight: 1})
	ctx := context.Background()
	for i := range 8 {
		if _, err := s.Increment(ctx, "c", 1, fmt.Sprintf("old-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var fresh, dups atomic.Int64
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("new-%d", i)
			if i%2 == 0 {
				key = fmt.Sprintf("old-%d", i%8)
			}
			r, err := s.Increment(ctx, "c", 1, key)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Duplicate {
				dups.Add(1)
			} else {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 32 || dups.Load() != 32 {
		t.Fatalf("%d applied, %d duplicates; want 32 and 32", fresh.Load(), dups.Load())
	}
	if got := mustValue(t, s, "c"); got != 8+32 {
		t.Fatalf("value %d, want %d", got, 8+32)
	}
	if st := s.Stats(); st.Commits >= st.Increments {
		t.Logf("note: the calls were not coalesced (%+v); the test then checks less", st)
	}
}

// TestRecordsCarryExpiry checks the field a Firestore TTL policy deletes idempotency records by.
func TestRecordsCarryExpiry(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := storeOn(t, em, shard.Options{KeyRetention: 2 * time.Hour, Now: func() time.Time { return now }})
	if _, err := s.Increment(context.Background(), "c", 1, "k"); err != nil {
		t.Fatal(err)
	}
	client := emulatortest.NewClient(t, em.Addr(), "tally-test")
	docs, err := client.CollectionGroup(shard.TTLCollectionGroup).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d records, want 1", len(docs))
	}
	if got := docs[0].Data()[shard.TTLField]; got != now.Add(2*time.Hour) {
		t.Fatalf("%s = %v, want %v", shard.TTLField, got, now.Add(2*time.Hour))
	}
	if got := docs[0].Data()["key"]; got != "k" {
		t.Fatalf("the record keeps key %v, want the original key", got)
	}
}

// TestRecordsExpireUnderTheDeclaredTTLPolicy: the records' expiry field is the one the store
// declares for the TTL policy, so once a record expires the emulator deletes it, and the key,
// forgotten, applies again.
func TestRecordsExpireUnderTheDeclaredTTLPolicy(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{TTL: []ttl.Policy{{CollectionGroup: shard.TTLCollectionGroup, Field: shard.TTLField}}})
	longAgo := func() time.Time { return time.Now().Add(-48 * time.Hour) }
	s := storeOn(t, em, shard.Options{Now: longAgo, KeyRetention: 24 * time.Hour})
	ctx := context.Background()
	fresh := storeOn(t, em, shard.Options{})
	if _, err := fresh.Increment(ctx, "c", 1, "kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "c", 2, "expired"); err != nil {
		t.Fatal(err)
	}
	deleted, err := em.SweepTTL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 1 {
		t.Fatalf("the sweep deleted %d documents, want the one expired record", deleted)
	}
	for _, tt := range []struct {
		key           string
		wantDuplicate bool
	}{{"kept", true}, {"expired", false}} {
		r, err := fresh.Increment(ctx, "c", map[string]int64{"kept": 1, "expired": 2}[tt.key], tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Duplicate != tt.wantDuplicate {
			t.Errorf("key %q: duplicate = %v, want %v", tt.key, r.Duplicate, tt.wantDuplicate)
		}
	}
	if got := mustValue(t, fresh, "c"); got != 5 {
		t.Fatalf("value %d, want 5 (1, then 2 twice)", got)
	}
}
