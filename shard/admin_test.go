package shard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/testload"
	"github.com/tally-dev/tally/shard"
)

// TestResizeUnderConcurrentIncrements resizes a hot counter up and down, from two servers, while
// 32 clients increment it through both; the final value must be exact.
func TestResizeUnderConcurrentIncrements(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	a := storeOn(t, em, shard.Options{})
	b := storeOn(t, em, shard.Options{})
	ctx := context.Background()
	if _, err := a.Create(ctx, "hot", 8); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	load := testload.Start(32, func(client int) bool {
		s := a
		if client%2 == 1 {
			s = b
		}
		if _, err := s.Increment(ctx, "hot", 2, ""); err != nil {
			t.Error(err)
			return false
		}
		sent.Add(2)
		return true
	})
	for i, n := range []int{1, 32, 3, 100, 2, 16} {
		resizer := a
		if i%2 == 1 {
			resizer = b
		}
		c, err := resizer.Resize(ctx, "hot", n)
		if err != nil {
			t.Fatalf("resize to %d: %v", n, err)
		}
		if c.ShardCount != n {
			t.Fatalf("resized to %d, counter says %d", n, c.ShardCount)
		}
	}
	load.Stop()
	if got := mustValue(t, a, "hot"); got != sent.Load() {
		t.Fatalf("value %d, want %d", got, sent.Load())
	}
	if got := mustValue(t, b, "hot"); got != sent.Load() {
		t.Fatalf("value read through the other server %d, want %d", got, sent.Load())
	}
}

func TestResizeReportsTheValue(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	for range 40 {
		if _, err := s.Increment(ctx, "r", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Resize(ctx, "r", 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != 40 || c.ShardCount != 1 || !c.UpdateTime.After(c.CreateTime) {
		t.Fatalf("after shrinking to one shard: %+v", c)
	}
	if _, err := s.Resize(ctx, "missing", 2); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("resize of a missing counter: %v", err)
	}
}

func TestResetDeleteCreate(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	if _, err := s.Create(ctx, "c", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "c", 3); !errors.Is(err, shard.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	if _, err := s.Increment(ctx, "c", 10, ""); err != nil {
		t.Fatal(err)
	}
	first, err := s.Reset(ctx, "c", "reset-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, s, "c"); got != 0 {
		t.Fatalf("value after reset %d", got)
	}
	if _, err := s.Increment(ctx, "c", 4, ""); err != nil {
		t.Fatal(err)
	}
	again, err := s.Reset(ctx, "c", "reset-1")
	if err != nil || !again.Duplicate || !again.CommitTime.Equal(first.CommitTime) {
		t.Fatalf("retried reset: %+v, %v; want a duplicate", again, err)
	}
	if got := mustValue(t, s, "c"); got != 4 {
		t.Fatalf("a retried reset wiped later increments: value %d, want 4", got)
	}

	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "c"); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.Delete(ctx, "c"); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Increment(ctx, "c", 1, ""); err != nil {
		t.Fatal(err)
	}
	c, err := s.Get(ctx, "c")
	if err != nil || c.Value != 1 || c.ShardCount != 16 {
		t.Fatalf("recreated counter: %+v, %v; want value 1 with the default 16 shards", c, err)
	}
}

// TestDeleteSeenByAnotherServer: a server with a cached view of a deleted counter must not add
// to the deleted incarnation.
func TestDeleteSeenByAnotherServer(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	a := storeOn(t, em, shard.Options{})
	b := storeOn(t, em, shard.Options{DefaultShards: 1})
	ctx := context.Background()
	if _, err := b.Increment(ctx, "c", 5, ""); err != nil { // b caches the counter
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Increment(ctx, "c", 2, ""); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, a, "c"); got != 2 {
		t.Fatalf("value %d, want 2: the recreated counter holds only the later increment", got)
	}
}

func TestBatchGetAndList(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{DefaultShards: 2})
	ctx := context.Background()
	ids := []string{"apple", "apricot", "banana", "app", "b", "ápple"}
	for i, id := range ids {
		if _, err := s.Increment(ctx, id, int64(i+1), ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.BatchGet(ctx, []string{"banana", "apple"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Value != 3 || got[1].Value != 1 || !got[0].ReadTime.Equal(got[1].ReadTime) {
		t.Fatalf("batch get: %+v %+v", got[0], got[1])
	}
	if _, err := s.BatchGet(ctx, []string{"apple", "nope"}); !errors.Is(err, shard.ErrNotFound) {
		t.Fatalf("batch get with a missing counter: %v", err)
	}

	listAll := func(prefix string, size int, values bool) []string {
		var out []string
		token := ""
		for {
			page, next, err := s.List(ctx, shard.ListOptions{Prefix: prefix, PageSize: size, PageToken: token, WithValues: values})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				out = append(out, fmt.Sprintf("%s=%d", c.ID, c.Value))
			}
			if next == "" {
				return out
			}
			token = next
		}
	}
	if got, want := listAll("ap", 2, true), []string{"app=4", "apple=1", "apricot=2"}; !slices.Equal(got, want) {
		t.Fatalf("prefix ap: %v, want %v", got, want)
	}
	if got, want := listAll("", 4, false), []string{"app=0", "apple=0", "apricot=0", "b=0", "banana=0", "ápple=0"}; !slices.Equal(got, want) {
		t.Fatalf("all without values: %v, want %v", got, want)
	}
	_, next, err := s.List(ctx, shard.ListOptions{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.List(ctx, shard.ListOptions{PageSize: 1, PageToken: next, Prefix: "x"}); !errors.Is(err, shard.ErrInvalidArgument) || !errors.Is(err, shard.ErrBadPageToken) {
		t.Fatalf("token with another prefix: %v", err)
	}
}

func TestCloseDrainsQueuedIncrements(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-test")
	s, err := shard.New(client, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var acked atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Increment(ctx, "c", 1, ""); err == nil {
				acked.Add(1)
			} else if !errors.Is(err, shard.ErrClosed) {
				t.Error(err)
			}
		}()
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := s.Increment(ctx, "c", 1, ""); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("increment after close: %v", err)
	}
	other, err := shard.New(client, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if acked.Load() > 0 {
		if got := mustValue(t, other, "c"); got != acked.Load() {
			t.Fatalf("value %d, acknowledged %d", got, acked.Load())
		}
	}
}
