package shard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/shard"
)

// TestKeyedResetAnsweredAbortedAfterApplying: the reset's commit is applied but answered ABORTED,
// so the transaction runs again; it finds its own record and must not answer a duplicate of
// itself.
func TestKeyedResetAnsweredAbortedAfterApplying(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2})
	ctx := context.Background()
	if _, err := s.Increment(ctx, "c", 5, ""); err != nil {
		t.Fatal(err)
	}
	lost := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.TransactionalCommit, Action: faultinject.LoseAnswer, Code: codes.Aborted})
	r, err := s.Reset(ctx, "c", "reset-1")
	if err != nil {
		t.Fatal(err)
	}
	wantApplied(t, lost, "reset commit")
	if r.Duplicate {
		t.Fatal("the reset's own applied commit was answered as a duplicate")
	}
	wantValue(t, "c", 0, s, storeOn(t, em, shard.Options{}))
	again, err := s.Reset(ctx, "c", "reset-1")
	if err != nil || !again.Duplicate || !again.CommitTime.Equal(r.CommitTime) {
		t.Fatalf("repeat: %+v, %v; want a duplicate with commit time %v", again, err, r.CommitTime)
	}
}

// TestResizeToTheSameCountKeepsUpdateTime: a resize that changes no configuration leaves the
// metadata unchanged, so the update time it reports is the one reads show.
func TestResizeToTheSameCountKeepsUpdateTime(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	created, err := s.Create(ctx, "c", 4)
	if err != nil {
		t.Fatal(err)
	}
	resized, err := s.Resize(ctx, "c", 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if !resized.UpdateTime.Equal(got.UpdateTime) || !got.UpdateTime.Equal(created.UpdateTime) {
		t.Fatalf("resize to the same count reported update time %v; reads show %v, created %v", resized.UpdateTime, got.UpdateTime, created.UpdateTime)
	}
}

// TestDeleteAnsweredAbortedAfterApplying: the delete's commit is applied but answered ABORTED; the
// transaction's next run finds the counter gone, which is the delete's own success.
func TestDeleteAnsweredAbortedAfterApplying(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s, inj := injectedStore(t, em, shard.Options{DefaultShards: 2})
	ctx := context.Background()
	if _, err := s.Create(ctx, "c", 2); err != nil {
		t.Fatal(err)
	}
	lost := inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.TransactionalCommit, Action: faultinject.LoseAnswer, Code: codes.Aborted})
	err := s.Delete(ctx, "c")
	wantApplied(t, lost, "delete commit")
	if err != nil {
		t.Fatalf("a delete that was applied answered %v", err)
	}
	if _, err := s.Get(ctx, "c"); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("get after the delete: %v, want ErrNotFound", err)
	}
}

// TestOversizedBatchIsRefusedAsTooLarge: a BatchIncrement that creates so many counters (long
// ids, every shard written with its metadata) that its commit passes Firestore's 10 MiB limit
// fails with ErrTooLarge at once, applying nothing, rather than as an internal error.
func TestOversizedBatchIsRefusedAsTooLarge(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	pad := strings.Repeat("x", 1400)
	var deltas []shard.Delta
	for i := range shard.MaxBatchDeltas {
		deltas = append(deltas, shard.Delta{CounterID: fmt.Sprintf("%s-%d", pad, i), Delta: 1})
	}
	if _, err := s.BatchIncrement(context.Background(), deltas, ""); !errors.Is(err, shard.ErrTooLarge) {
		t.Fatalf("BatchIncrement creating %d counters: %v, want ErrTooLarge", len(deltas), err)
	}
	if _, err := s.Get(context.Background(), deltas[0].CounterID); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("a counter of the refused batch: %v, want ErrNotFound", err)
	}
}
