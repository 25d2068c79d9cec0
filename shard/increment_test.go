package shard_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

func TestIncrementCreatesCounterAndSums(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{DefaultShards: 4})
	ctx := context.Background()
	if _, err := s.Get(ctx, "fresh"); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("get before first increment: %v, want ErrNotFound", err)
	}
	var want int64
	for _, d := range []int64{5, -2, 100, 0, 7} {
		if _, err := s.Increment(ctx, "fresh", d, ""); err != nil {
			t.Fatal(err)
		}
		want += d
	}
	c, err := s.Get(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != want || c.ShardCount != 4 {
		t.Fatalf("got value %d with %d shards, want %d with 4", c.Value, c.ShardCount, want)
	}
	if c.ReadTime.Before(c.CreateTime) || c.CreateTime.IsZero() {
		t.Fatalf("times: create %v read %v", c.CreateTime, c.ReadTime)
	}
}

func TestConcurrentIncrementsAreExactAndCoalesced(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	const clients, each = 64, 50
	incrementConcurrently(t, s, "hot", clients, each, func(int, int) string { return "" })
	if got := mustValue(t, s, "hot"); got != clients*each {
		t.Fatalf("value %d, want %d", got, clients*each)
	}
	st := s.Stats()
	if st.Increments != clients*each || st.Commits >= st.Increments {
		t.Fatalf("stats %+v: %d increments should have been coalesced into fewer commits", st, clients*each)
	}
	if st.PeakLanes != 1 {
		t.Fatalf("stats %+v: 64 callers never fill a batch of 500, so one commit at a time should carry them", st)
	}
	t.Logf("%d increments in %d commits", st.Increments, st.Commits)
}

// TestFullBatchesRunOnMoreLanes: when a full batch waits, more commits of the counter run at
// once, each on its own shard, and the total stays exact, keyed increments included.
func TestFullBatchesRunOnMoreLanes(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{MaxBatch: 2, MaxInFlight: 4})
	const clients, each = 64, 20
	incrementConcurrently(t, s, "hot", clients, each, func(client, n int) string {
		if client%2 == 0 {
			return fmt.Sprintf("k%d-%d", client, n)
		}
		return ""
	})
	if got := mustValue(t, s, "hot"); got != clients*each {
		t.Fatalf("value %d, want %d", got, clients*each)
	}
	if st := s.Stats(); st.PeakLanes < 2 || st.PeakLanes > 4 {
		t.Fatalf("stats %+v: want 2 to 4 commits in flight at once", st)
	}
}

// incrementConcurrently has clients goroutines each add 1 to counter id each times, with the
// idempotency key keyFor gives (client, n), and fails the test on any error.
func incrementConcurrently(t *testing.T, s *shard.Counters, id string, clients, each int, keyFor func(client, n int) string) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				if _, err := s.Increment(ctx, id, 1, keyFor(client, n)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestOverflowIsRejectedAndNothingApplied: an increment that would take the counter's total
// outside int64 fails and applies nothing, whichever shard it could have gone to, and the counter
// stays readable.
func TestOverflowIsRejectedAndNothingApplied(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s, other := storeOn(t, em, shard.Options{}), storeOn(t, em, shard.Options{})
	ctx := context.Background()
	if _, err := s.Create(ctx, "big", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "big", math.MaxInt64, ""); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*shard.Counters{s, other} {
		if _, err := st.Increment(ctx, "big", math.MaxInt64, ""); !errors.Is(err, shard.ErrOutOfRange) {
			t.Fatalf("second MaxInt64: %v, want ErrOutOfRange", err)
		}
		if _, err := st.Increment(ctx, "big", 1, "k"); !errors.Is(err, shard.ErrOutOfRange) {
			t.Fatalf("increment past int64: %v, want ErrOutOfRange", err)
		}
	}
	if got := mustValue(t, other, "big"); got != math.MaxInt64 {
		t.Fatalf("value %d after the rejected increments, want MaxInt64", got)
	}
	if _, err := other.Increment(ctx, "big", math.MinInt64, ""); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, s, "big"); got != -1 {
		t.Fatalf("value %d, want -1", got)
	}
	// The rejected increment's key was not recorded: it can be used again.
	if r, err := s.Increment(ctx, "big", 1, "k"); err != nil || r.Duplicate {
		t.Fatalf("reusing the rejected increment's key: %+v, %v", r, err)
	}
	if got := mustValue(t, other, "big"); got != 0 {
		t.Fatalf("value %d, want 0", got)
	}
}
