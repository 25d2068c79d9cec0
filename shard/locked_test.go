package shard_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/shard"
)

// The locked path recognises only its own runs' attempts. These tests put requests the fast
// path takes and requests it defers into one coalesced batch: the first commit of a counter is
// held while the others queue behind it.

type answer struct {
	r   shard.WriteResult
	err error
}

// batchBehindHeldCommit sends prior, waits until its commit is held by hold, queues the other
// increments behind it in order, releases the commit and returns every answer, prior's first.
func batchBehindHeldCommit(t *testing.T, s *shard.Counters, hold *faultinject.Rule, release chan struct{}, prior shard.Delta, keys []string, deltas ...int64) []answer {
	t.Helper()
	ctx := context.Background()
	send := func(delta int64, key string) chan answer {
		ch := make(chan answer, 1)
		go func() {
			r, err := s.Increment(ctx, prior.CounterID, delta, key)
			ch <- answer{r, err}
		}()
		return ch
	}
	chans := []chan answer{send(prior.Delta, "")}
	<-hold.Hit() // prior's commit is held: the next calls queue behind it
	for i, d := range deltas {
		chans = append(chans, send(d, keys[i]))
		waitQueued(t, s, prior.CounterID, i+1)
	}
	close(release)
	out := make([]answer, len(chans))
	for i, ch := range chans {
		out[i] = <-ch
	}
	return out
}

// TestDeferredRequestIsNotTakenForTheFastCommitBeforeIt: a batch holds +1, which the fast path
// commits, and a delta beyond the per-shard bounds, which it defers to the locked path; the
// locked path must not take the fast commit's attempt for its own.
func TestDeferredRequestIsNotTakenForTheFastCommitBeforeIt(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2})
	if _, err := s.Increment(context.Background(), "c", 1, ""); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	hold := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.DelayAfter, Release: release})
	const big = math.MaxInt64/2 + 10
	got := batchBehindHeldCommit(t, s, hold, release, shard.Delta{CounterID: "c", Delta: 1}, []string{"", ""}, 1, big)
	for i, a := range got {
		if a.err != nil {
			t.Fatalf("answer %d: %v", i, a.err)
		}
	}
	wantValue(t, "c", 3+big, storeOn(t, em, shard.Options{}))
}

// TestLockedPathAnswersEachRequestItsOwnOutcome: in exact mode everything takes the locked path.
// A(k, +1) would overflow; B reuses k for another request, which becomes its first use once A is
// refused, and is committed by a second locked commit; C(-1) commits in the first. B must not be
// taken as applied by the first commit's attempt.
func TestLockedPathAnswersEachRequestItsOwnOutcome(t *testing.T) {
	t.Parallel()
	em, s, _, hold, release := exactCounterWithHeldCommit(t)
	got := batchBehindHeldCommit(t, s, hold, release, shard.Delta{CounterID: "c", Delta: 0}, []string{"k", "k", ""}, 1, -1, -1)
	if !errors.Is(got[1].err, shard.ErrOutOfRange) {
		t.Errorf("A, past MaxInt64: %+v, %v; want ErrOutOfRange", got[1].r, got[1].err)
	}
	for i, name := range []string{"", "", "B", "C"} {
		if name != "" && (got[i].err != nil || got[i].r.Duplicate) {
			t.Errorf("%s: %+v, %v; want applied", name, got[i].r, got[i].err)
		}
	}
	wantValue(t, "c", math.MaxInt64-2, storeOn(t, em, shard.Options{}))
}

// TestLockedRerunKeepsTheAppliedRunsAnswers: the locked commit that refused A (overflow) and
// applied C is answered ABORTED although applied, so the transaction runs again and finds it: A
// must still be refused.
func TestLockedRerunKeepsTheAppliedRunsAnswers(t *testing.T) {
	t.Parallel()
	em, s, inj, hold, release := exactCounterWithHeldCommit(t)
	lose := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.TransactionalCommit, Action: faultinject.LoseAnswer, Code: codes.Aborted})
	got := batchBehindHeldCommit(t, s, hold, release, shard.Delta{CounterID: "c", Delta: 0}, []string{"", ""}, 1, -1)
	if lose.Fired() == 0 {
		t.Fatal("the locked commit's answer was not lost")
	}
	if !errors.Is(got[1].err, shard.ErrOutOfRange) {
		t.Errorf("A, past MaxInt64: %+v, %v; want ErrOutOfRange", got[1].r, got[1].err)
	}
	if got[2].err != nil {
		t.Errorf("C: %v", got[2].err)
	}
	wantValue(t, "c", math.MaxInt64-1, storeOn(t, em, shard.Options{}))
}

// exactCounterWithHeldCommit makes counter "c" hold MaxInt64 on 2 shards, so that it is in exact
// mode and every write takes the locked path, and holds the answer of its next locked commit
// until release is closed.
func exactCounterWithHeldCommit(t *testing.T) (*emulator.Emulator, *shard.Counters, *faultinject.Injector, *faultinject.Rule, chan struct{}) {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{})
	s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2})
	if _, err := s.Increment(context.Background(), "c", math.MaxInt64, ""); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	hold := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.TransactionalCommit, Action: faultinject.DelayAfter, Release: release})
	return em, s, inj, hold, release
}

// TestLegacyShardPastShardCountIsFolded: an earlier version of tally could leave a shard of the
// current generation past shard_count, which the value counts. Loading the counter finds it and
// spreads it over the shards, so the int64 check sees it.
func TestLegacyShardPastShardCountIsFolded(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s := storeOn(t, em, shard.Options{})
	ctx := context.Background()
	if _, err := s.Create(ctx, "c", 2); err != nil {
		t.Fatal(err)
	}
	raw := emulatortest.NewClient(t, em.Addr(), "tally-test")
	meta, err := raw.Doc("counters/c").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Doc("counters/c/shards/2").Set(ctx, map[string]any{"count": int64(math.MaxInt64), "generation": meta.Data()["generation"]}); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, s, "c"); got != math.MaxInt64 {
		t.Fatalf("setup: value %d, want MaxInt64 (the extra shard counts)", got)
	}
	if _, err := s.Increment(ctx, "c", 1, ""); !errors.Is(err, shard.ErrOutOfRange) {
		t.Fatalf("increment past MaxInt64: %v, want ErrOutOfRange", err)
	}
	if got := mustValue(t, s, "c"); got != math.MaxInt64 {
		t.Fatalf("value %d, want MaxInt64", got)
	}
	if _, err := raw.Doc("counters/c/shards/2").Get(ctx); err == nil {
		t.Error("the shard past shard_count is still there")
	}
}
