package shard_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/testlog"
	"github.com/tally-dev/tally/shard"
)

// noTicks keeps the evaluation from running on its own: the tests end each window with AdaptNow.
const noTicks = 24 * time.Hour

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestAdaptiveCounterGrowsUnderContention drives increments of a one-shard adaptive counter from
// many goroutines through three servers at once, which race for its shard, and ends a window on
// every server after each few hundred increments. The counter grows; every read during the run,
// and after it, equals exactly the increments acknowledged up to its read time; the decisions are
// logged and counted.
func TestAdaptiveCounterGrowsUnderContention(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	logs := &testlog.Buffer{}
	opts := shard.Options{AdaptiveWindow: noTicks, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	o := observe(t, &opts)
	replicas := []*shard.Counters{storeOn(t, em, opts), storeOn(t, em, opts), storeOn(t, em, opts)}
	ctx := context.Background()
	const id = "hot"
	if _, err := replicas[0].CreateWith(ctx, id, shard.Settings{Shards: 1, Adaptive: true}); err != nil {
		t.Fatal(err)
	}

	const workers, perWorker, every = 24, 150, 200
	var (
		mu      sync.Mutex
		commits []time.Time // of every acknowledged increment (of 1)
		acked   atomic.Int64
	)
	progress := make(chan struct{}, workers*perWorker/every+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := replicas[w%len(replicas)]
			for i := range perWorker {
				res, err := s.Increment(ctx, id, 1, "")
				if err != nil {
					t.Errorf("increment %d of worker %d: %v", i, w, err)
					return
				}
				mu.Lock()
				commits = append(commits, res.CommitTime)
				mu.Unlock()
				if acked.Add(1)%every == 0 {
					progress <- struct{}{}
				}
			}
		})
	}
	loadDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(loadDone)
	}()

	type reading struct {
		at     time.Time
		value  int64
		shards int
	}
	var readings []reading
	read := func(s *shard.Counters) {
		c, err := s.Get(ctx, id)
		if err != nil {
			t.Errorf("read during the run: %v", err)
			return
		}
		readings = append(readings, reading{c.ReadTime, c.Value, c.ShardCount})
	}
	for running := true; running; {
		select {
		case <-progress:
		case <-loadDone:
			running = false
		}
		// Every server ends its window at once: their decisions race as they would in production.
		var deciding sync.WaitGroup
		for _, s := range replicas {
			deciding.Go(func() { s.AdaptNow(ctx) })
		}
		deciding.Wait()
		for _, s := range replicas {
			read(s)
		}
	}
	if t.Failed() {
		return
	}
	read(replicas[0])

	slices.SortFunc(commits, time.Time.Compare)
	if len(commits) != workers*perWorker {
		t.Fatalf("%d increments acknowledged, want %d", len(commits), workers*perWorker)
	}
	grown := 1
	for _, r := range readings {
		n, _ := slices.BinarySearchFunc(commits, r.at, func(c, at time.Time) int {
			if c.After(at) {
				return 1
			}
			return -1
		})
		if r.value != int64(n) {
			t.Errorf("read as of %v: %d, but %d increments were acknowledged up to then", r.at, r.value, n)
		}
		grown = max(grown, r.shards)
	}
	if last := readings[len(readings)-1]; last.value != int64(workers*perWorker) {
		t.Errorf("final value %d, want %d", last.value, workers*perWorker)
	}
	if grown == 1 {
		t.Fatalf("the counter never grew past one shard; %d resizes counted", o.sum(t, "tally.shard.resizes", "", ""))
	}
	t.Logf("grew to %d shards; %d reads checked", grown, len(readings))
	if got := o.sum(t, "tally.shard.resizes", "direction", "grow"); got == 0 {
		t.Error("tally.shard.resizes{direction=grow} = 0")
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"adaptive shard count changed\" counter=hot from=1 to=2 reason=") {
		t.Errorf("no decision from 1 to 2 shards logged:\n%s", logs.String())
	}
}

// An adaptive counter shrinks, step by step, once it has gone a cooldown without contention,
// down to the least count allowed, keeping its value; a counter without adaptive shards, and
// one whose adaptive shards were turned off, keep theirs.
func TestAdaptiveCounterShrinksWhenCool(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	opts := shard.Options{Now: clock.Now, AdaptiveWindow: noTicks, AdaptiveCooldown: time.Minute, AdaptiveMinShards: 2}
	o := observe(t, &opts)
	s := newStore(t, opts)
	ctx := context.Background()
	for _, c := range []struct {
		id       string
		adaptive bool
	}{{"cool", true}, {"fixed", false}, {"turned-off", true}} {
		if _, err := s.CreateWith(ctx, c.id, shard.Settings{Shards: 16, Adaptive: c.adaptive}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Increment(ctx, c.id, 41, ""); err != nil { // loads the counter
			t.Fatal(err)
		}
	}
	off := false
	if _, err := s.Update(ctx, "turned-off", shard.Change{Adaptive: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "turned-off", 1, ""); err != nil {
		t.Fatal(err)
	}
	shards := func(id string) int {
		c, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int64{"cool": 41, "fixed": 41, "turned-off": 42}[id]; c.Value != want {
			t.Errorf("%s: value %d, want %d", id, c.Value, want)
		}
		return c.ShardCount
	}

	s.AdaptNow(ctx) // the first window starts the cooldown
	if n := shards("cool"); n != 16 {
		t.Fatalf("shrunk to %d before a cooldown", n)
	}
	for _, want := range []int{8, 4, 2, 2} {
		before := shards("cool")
		clock.Advance(59 * time.Second)
		s.AdaptNow(ctx)
		if n := shards("cool"); n != before {
			t.Fatalf("%d shards became %d within a cooldown", before, n)
		}
		clock.Advance(time.Second)
		s.AdaptNow(ctx)
		if n := shards("cool"); n != want {
			t.Fatalf("%d shards after a cooldown, want %d", n, want)
		}
	}
	for _, id := range []string{"fixed", "turned-off"} {
		if n := shards(id); n != 16 {
			t.Errorf("%s: %d shards, want 16", id, n)
		}
	}
	if got := o.sum(t, "tally.shard.resizes", "reason", "cooled"); got != 3 {
		t.Errorf("tally.shard.resizes{reason=cooled} = %d, want 3", got)
	}
}

// On one server, increments of a one-shard counter from many goroutines keep full batches
// waiting for the one lane its shard allows: the counter grows for queueing, but no further than
// the lanes one counter may run (MaxInFlight), since more shards would not run more lanes.
func TestAdaptiveCounterGrowsForQueueing(t *testing.T) {
	t.Parallel()
	opts := shard.Options{AdaptiveWindow: noTicks, MaxBatch: 2, MaxInFlight: 4}
	o := observe(t, &opts)
	s := newStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateWith(ctx, "queued", shard.Settings{Shards: 1, Adaptive: true}); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 64, 40
	progress := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if _, err := s.Increment(ctx, "queued", 1, ""); err != nil {
					t.Errorf("increment %d of worker %d: %v", i, w, err)
					return
				}
				if i%10 == 9 {
					progress <- struct{}{}
				}
			}
		})
	}
	loadDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(loadDone)
	}()
	for running := true; running; {
		select {
		case <-progress:
		case <-loadDone:
			running = false
		}
		s.AdaptNow(ctx)
	}
	c, err := s.Get(ctx, "queued")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != workers*perWorker || c.ShardCount < 2 || c.ShardCount > 4 {
		t.Errorf("value %d on %d shards, want %d on 2 to 4 shards", c.Value, c.ShardCount, workers*perWorker)
	}
	if got := o.sum(t, "tally.shard.resizes", "reason", "queueing"); got == 0 {
		t.Error("tally.shard.resizes{reason=queueing} = 0")
	}
	if got := o.sum(t, "tally.shard.resizes", "reason", "conflicts"); got != 0 {
		t.Errorf("tally.shard.resizes{reason=conflicts} = %d on one server, whose lanes never race", got)
	}
}

// Two servers that decide at once resize the counter once: the second finds the count changed.
func TestAdaptiveDecisionsOfTwoServersAtOnce(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	em := emulatortest.Start(t, emulator.Options{})
	opts := shard.Options{Now: clock.Now, AdaptiveWindow: noTicks, AdaptiveCooldown: time.Minute}
	a, b := storeOn(t, em, opts), storeOn(t, em, opts)
	ctx := context.Background()
	if _, err := a.CreateWith(ctx, "both", shard.Settings{Shards: 8, Adaptive: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*shard.Counters{a, b} {
		if _, err := s.Increment(ctx, "both", 5, ""); err != nil {
			t.Fatal(err)
		}
		s.AdaptNow(ctx)
	}
	clock.Advance(time.Minute)
	var wg sync.WaitGroup
	for _, s := range []*shard.Counters{a, b} {
		wg.Go(func() { s.AdaptNow(ctx) })
	}
	wg.Wait()
	c, err := b.Get(ctx, "both")
	if err != nil {
		t.Fatal(err)
	}
	if c.ShardCount != 4 || c.Value != 10 {
		t.Errorf("after two decisions at once: %d shards, value %d; want 4 shards, value 10", c.ShardCount, c.Value)
	}
}

// decisions is a slog handler that passes on every decision logged.
type decisions chan string

func (d decisions) Enabled(context.Context, slog.Level) bool { return true }
func (d decisions) WithAttrs([]slog.Attr) slog.Handler       { return d }
func (d decisions) WithGroup(string) slog.Handler            { return d }
func (d decisions) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "adaptive shard count changed" {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(a.String() + " ")
			return true
		})
		select {
		case d <- b.String():
		default:
		}
	}
	return nil
}

// Without AdaptNow, the store judges its adaptive counters by itself once a window.
func TestAdaptiveEvaluationRunsEveryWindow(t *testing.T) {
	t.Parallel()
	logged := make(decisions, 1)
	s := newStore(t, shard.Options{AdaptiveWindow: 20 * time.Millisecond, AdaptiveCooldown: time.Nanosecond, Logger: slog.New(logged)})
	ctx := context.Background()
	if _, err := s.CreateWith(ctx, "ticking", shard.Settings{Shards: 4, Adaptive: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "ticking", 3, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-logged:
		if !strings.Contains(d, "counter=ticking from=4 to=2 reason=cooled") {
			t.Errorf("decision %q, want ticking from 4 to 2 shards, cooled", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no decision within 30s of windows of 20ms")
	}
}
