package shard_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// event is one acknowledged change of a counter at its commit time.
type event struct {
	at     time.Time
	delta  int64 // an increment
	reset  bool
	shards int // a resize to this many shards
}

// TestReadsAsOfATimeSeeWhatWasAcknowledgedUpToThen runs increments, resets and resizes through two
// replicas at once, records the commit time of every acknowledged one, and then reads the counter
// at every commit time and just before it: each read equals, exactly, what the operations
// acknowledged up to that time add up to, with the shard count of that time.
func TestReadsAsOfATimeSeeWhatWasAcknowledgedUpToThen(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	replicas := []*shard.Counters{storeOn(t, em, shard.Options{}), storeOn(t, em, shard.Options{})}
	ctx := context.Background()
	const id = "asof"
	created, err := replicas[0].Create(ctx, id, 4)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events = []event{{at: created.CreateTime, shards: 4}}
	)
	record := func(e event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	// Reads during the run, at the latest commit time acknowledged so far, checked once every
	// operation is acknowledged.
	type sample struct {
		at     time.Time
		value  int64
		shards int
	}
	var samples []sample
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			mu.Lock()
			at := events[len(events)-1].at
			mu.Unlock()
			c, err := replicas[i%2].GetAt(ctx, id, at)
			if err != nil {
				t.Errorf("read as of %v during the run: %v", at, err)
				return
			}
			samples = append(samples, sample{at, c.Value, c.ShardCount})
		}
	})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			s := replicas[g%2]
			for i := range 40 {
				delta := int64(rand.IntN(100) - 30)
				res, err := s.Increment(ctx, id, delta, "")
				if err != nil {
					t.Errorf("increment %d of goroutine %d: %v", i, g, err)
					return
				}
				record(event{at: res.CommitTime, delta: delta})
			}
		})
	}
	wg.Go(func() {
		for i := range 8 {
			s := replicas[i%2]
			if i%2 == 0 {
				res, err := s.Reset(ctx, id, "")
				if err != nil {
					t.Errorf("reset: %v", err)
					return
				}
				record(event{at: res.CommitTime, reset: true})
				continue
			}
			n := []int{1, 7, 3, 16}[i/2]
			c, err := s.Resize(ctx, id, n)
			if err != nil {
				t.Errorf("resize to %d: %v", n, err)
				return
			}
			record(event{at: c.ReadTime, shards: n})
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()
	if t.Failed() {
		return
	}
	slices.SortFunc(events, func(a, b event) int { return a.at.Compare(b.at) })

	// The value and shard count after every event, as of its commit time.
	var value int64
	shards := 0
	type expected struct {
		at     time.Time
		value  int64
		shards int
	}
	var want []expected
	for i, e := range events {
		switch {
		case e.reset:
			value = 0
		case e.shards != 0:
			shards = e.shards
		default:
			value += e.delta
		}
		if i+1 < len(events) && events[i+1].at.Equal(e.at) {
			continue // several commits at one time: read after the last of them
		}
		want = append(want, expected{at: e.at, value: value, shards: shards})
	}
	for i, w := range want {
		s := replicas[i%2]
		c, err := s.GetAt(ctx, id, w.at)
		if err != nil {
			t.Fatalf("read as of %v: %v", w.at, err)
		}
		if c.Value != w.value || c.ShardCount != w.shards || !c.ReadTime.Equal(w.at) {
			t.Errorf("as of %v: value %d, %d shards, read time %v; want %d, %d shards", w.at, c.Value, c.ShardCount, c.ReadTime, w.value, w.shards)
		}
		if i == 0 {
			continue
		}
		before := w.at.Add(-time.Microsecond)
		if prev := want[i-1]; before.After(prev.at) || before.Equal(prev.at) {
			c, err := s.GetAt(ctx, id, before)
			if err != nil {
				t.Fatalf("read as of %v: %v", before, err)
			}
			if c.Value != prev.value || c.ShardCount != prev.shards {
				t.Errorf("as of %v, just before a commit: value %d, %d shards; want %d, %d shards", before, c.Value, c.ShardCount, prev.value, prev.shards)
			}
		}
	}
	for _, r := range samples {
		i, _ := slices.BinarySearchFunc(want, r.at, func(e expected, t time.Time) int { return e.at.Compare(t) })
		if i == len(want) || !want[i].at.Equal(r.at) {
			i-- // the last commit before r.at
		}
		if w := want[i]; r.value != w.value || r.shards != w.shards {
			t.Errorf("read during the run as of %v: value %d, %d shards; want %d, %d shards", r.at, r.value, r.shards, w.value, w.shards)
		}
	}
	if len(samples) == 0 {
		t.Error("no read during the run")
	}
	// BatchGetAt reads the same, and a time between two microseconds reads as its microsecond.
	mid := want[len(want)/2]
	cs, err := replicas[1].BatchGetAt(ctx, []string{id, id}, mid.at.Add(999*time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Value != mid.value || !c.ReadTime.Equal(mid.at) {
			t.Errorf("batch read as of %v: value %d at %v, want %d at %v", mid.at, c.Value, c.ReadTime, mid.value, mid.at)
		}
	}
	if got := mustValue(t, replicas[0], id); got != value {
		t.Errorf("current value %d, want %d", got, value)
	}
}

// A counter deleted and created anew reads, as of a time before the delete, as the incarnation of
// that time; as of a time between the delete and the new create it does not exist.
func TestReadAsOfATimeBeforeADeleteSeesTheOldCounter(t *testing.T) {
	t.Parallel()
	s := newStore(t, shard.Options{})
	ctx := context.Background()
	old, err := s.Create(ctx, "phoenix", 3)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Increment(ctx, "phoenix", 5, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Increment(ctx, "other", 9, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "phoenix"); err != nil {
		t.Fatal(err)
	}
	gone, err := s.Increment(ctx, "other", 1, "") // a commit after the delete
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "phoenix", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "phoenix", 2, ""); err != nil {
		t.Fatal(err)
	}

	c, err := s.GetAt(ctx, "phoenix", first.CommitTime)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != 5 || c.ShardCount != 3 || !c.CreateTime.Equal(old.CreateTime) {
		t.Errorf("as of before the delete: %+v, want value 5, 3 shards, created %v", c, old.CreateTime)
	}
	cs, err := s.BatchGetAt(ctx, []string{"other", "phoenix"}, other.CommitTime)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Value != 9 || cs[1].Value != 5 {
		t.Errorf("batch as of before the delete: %d and %d, want 9 and 5", cs[0].Value, cs[1].Value)
	}
	if _, err := s.GetAt(ctx, "phoenix", gone.CommitTime); !errors.Is(err, shard.ErrNotFound) {
		t.Errorf("as of after the delete: %v, want ErrNotFound", err)
	}
	if _, err := s.BatchGetAt(ctx, []string{"other", "phoenix"}, gone.CommitTime); !errors.Is(err, shard.ErrNotFound) {
		t.Errorf("batch as of after the delete: %v, want ErrNotFound", err)
	}
	if got := mustValue(t, s, "phoenix"); got != 2 {
		t.Errorf("current value %d, want 2", got)
	}
}

// Read times the store refuses itself, and the ones only the storage can refuse.
func TestReadAsOfATimeRefusals(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{VersionRetention: time.Hour})
	// A server whose clock runs a minute ahead of the storage's: a time it takes for the past
	// may be the storage's future.
	ahead := storeOn(t, em, shard.Options{Now: func() time.Time { return time.Now().Add(time.Minute) }})
	s := storeOn(t, em, shard.Options{})
	ctx := context.Background()
	if _, err := s.Increment(ctx, "a", 1, ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name  string
		store *shard.Counters
		at    time.Time
		want  error
		arg   bool // an ArgError about "at"
	}{
		{"in the future", s, now.Add(time.Hour), shard.ErrInvalidArgument, true},
		{"before the epoch", s, time.Unix(-1, 0), shard.ErrInvalidArgument, true},
		{"two hours ago, not a whole minute", s, now.Add(-2 * time.Hour).Truncate(time.Minute).Add(time.Millisecond), shard.ErrInvalidArgument, true},
		{"two hours ago, a whole minute, beyond the retention", s, now.Add(-2 * time.Hour).Truncate(time.Minute), shard.ErrReadTimeTooOld, false},
		{"in the storage's future", ahead, now.Add(30 * time.Second), shard.ErrBadReadTime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.store.GetAt(ctx, "a", tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("GetAt: %v, want %v", err, tt.want)
			}
			var arg *shard.ArgError
			if isArg := errors.As(err, &arg) && arg.Arg == "at"; isArg != tt.arg {
				t.Errorf("GetAt: %v; an ArgError about at: %v, want %v", err, isArg, tt.arg)
			}
			if _, berr := tt.store.BatchGetAt(ctx, []string{"a"}, tt.at); !errors.Is(berr, tt.want) {
				t.Errorf("BatchGetAt: %v, want %v", berr, tt.want)
			}
		})
	}
}
