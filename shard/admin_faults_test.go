package shard_test

import (
	"context"
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
