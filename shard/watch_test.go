package shard_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// watchOptions make updates as frequent as a store allows, so that tests see every state they
// wait for without waiting long.
var watchOptions = shard.Options{WatchInterval: time.Millisecond, MinWatchInterval: time.Millisecond}

// watchTimeout bounds a test's wait for an update that must come.
const watchTimeout = 30 * time.Second

func watchContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), watchTimeout)
	t.Cleanup(cancel)
	return ctx
}

func startWatch(t *testing.T, s *shard.Counters, id string, interval time.Duration) *shard.Watch {
	t.Helper()
	w, err := s.Watch(watchContext(t), id, interval)
	if err != nil {
		t.Fatalf("Watch(%q): %v", id, err)
	}
	t.Cleanup(w.Close)
	return w
}

// nextUntil returns the first update that satisfies done, checking each update on the way with
// check (nil: none). Updates come in read-time order.
func nextUntil(t *testing.T, w *shard.Watch, done func(shard.WatchUpdate) bool, check func(shard.WatchUpdate)) shard.WatchUpdate {
	t.Helper()
	ctx := watchContext(t)
	var last time.Time
	for {
		u, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if !u.Counter.ReadTime.After(last) {
			t.Fatalf("update at %v after one at %v: read times must increase", u.Counter.ReadTime, last)
		}
		last = u.Counter.ReadTime
		if check != nil {
			check(u)
		}
		if done(u) {
			return u
		}
	}
}

func valueIs(v int64) func(shard.WatchUpdate) bool {
	return func(u shard.WatchUpdate) bool { return !u.Deleted && u.Counter.Value == v }
}

func increment(t *testing.T, s *shard.Counters, id string, delta int64) shard.WriteResult {
	t.Helper()
	r, err := s.Increment(context.Background(), id, delta, "")
	if err != nil {
		t.Fatalf("increment %q by %d: %v", id, delta, err)
	}
	return r
}

// TestWatchSeesTheExactFinalValue: after 10,000 increments from many goroutines, a watcher's
// updates climb to exactly their sum, never past it, and each update's value is the counter's
// value at the update's read time as Get would have read it then.
func TestWatchSeesTheExactFinalValue(t *testing.T) {
	t.Parallel()
	s := newStore(t, watchOptions)
	if _, err := s.Create(context.Background(), "hot", 8); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, s, "hot", 0)
	const goroutines, each = 50, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.Increment(context.Background(), "hot", 1, ""); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	const total = goroutines * each
	var prev int64 = -1
	updates := 0
	nextUntil(t, w, valueIs(total), func(u shard.WatchUpdate) {
		updates++
		if u.Deleted || u.Counter.Value < prev || u.Counter.Value > total {
			t.Fatalf("update %+v (deleted %v) after value %d; want values rising to %d", u.Counter, u.Deleted, prev, total)
		}
		prev = u.Counter.Value
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	if got := mustValue(t, s, "hot"); got != total {
		t.Fatalf("Get after the increments: %d, want %d", got, total)
	}
	t.Logf("%d updates for %d increments", updates, total)
}

// TestWatchersShareListeners: many watchers of one counter on one server share its two Firestore
// listeners, all see each change, and the last to leave closes them.
func TestWatchersShareListeners(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	var listens listenStreams
	client := emulatortest.NewClient(t, em.Addr(), "tally-test", grpc.WithChainStreamInterceptor(listens.intercept))
	s, err := shard.New(client, watchOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if _, err := s.Create(context.Background(), "shared", 4); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	watches := make([]*shard.Watch, n)
	for i := range watches {
		watches[i] = startWatch(t, s, "shared", 0)
	}
	other := startWatch(t, s, mustCreate(t, s, "other"), 0)
	if got, want := openWatches(s), (shard.WatchStats{Hubs: 2, Listeners: 4, Watchers: n + 1}); got != want {
		t.Fatalf("WatchStats %+v, want %+v", got, want)
	}
	if got := listens.open.Load(); got != 4 {
		t.Fatalf("%d Listen streams open for two watched counters, want 4", got)
	}
	increment(t, s, "shared", 7)
	var wg sync.WaitGroup
	for _, w := range watches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nextUntil(t, w, valueIs(7), nil)
		}()
	}
	wg.Wait()
	for _, w := range watches {
		w.Close()
	}
	// Close of the last watcher returns once the hub's listeners are closed.
	if got, want := openWatches(s), (shard.WatchStats{Hubs: 1, Listeners: 2, Watchers: 1}); got != want {
		t.Fatalf("WatchStats after closing the watchers of one counter %+v, want %+v", got, want)
	}
	if got := listens.open.Load(); got != 2 {
		t.Fatalf("%d Listen streams open for one watched counter, want 2", got)
	}
	other.Close()
	if got := openWatches(s); got != (shard.WatchStats{}) {
		t.Fatalf("WatchStats after closing every watcher %+v, want none", got)
	}
	if got := listens.open.Load(); got != 0 {
		t.Fatalf("%d Listen streams open after every watcher left, want none", got)
	}
	// A new watcher starts the counter's listeners again and sees its current value.
	w := startWatch(t, s, "shared", 0)
	nextUntil(t, w, valueIs(7), nil)
}

// listenStreams counts the Firestore Listen streams a client has open, as the client's gRPC
// layer sees them: a stream counts from its start until a receive fails, which ends it.
type listenStreams struct{ open atomic.Int64 }

func (l *listenStreams) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != "/google.firestore.v1.Firestore/Listen" {
		return cs, err
	}
	l.open.Add(1)
	return &countedStream{ClientStream: cs, open: &l.open}, nil
}

type countedStream struct {
	grpc.ClientStream
	open  *atomic.Int64
	ended atomic.Bool
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && s.ended.CompareAndSwap(false, true) {
		s.open.Add(-1)
	}
	return err
}

// openWatches is s.WatchStats without the counts of work done.
func openWatches(s *shard.Counters) shard.WatchStats {
	st := s.WatchStats()
	return shard.WatchStats{Hubs: st.Hubs, Listeners: st.Listeners, Watchers: st.Watchers}
}

func mustCreate(t *testing.T, s *shard.Counters, id string) string {
	t.Helper()
	if _, err := s.Create(context.Background(), id, 0); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestStuckWatcherHoldsOnlyTheLatest: a watcher that does not read holds one update however many
// changes it misses, and when it reads again its first update is the latest value.
func TestStuckWatcherHoldsOnlyTheLatest(t *testing.T) {
	t.Parallel()
	s := newStore(t, watchOptions)
	mustCreate(t, s, "c")
	stuck := startWatch(t, s, "c", 0)
	reader := startWatch(t, s, "c", 0)
	const n = 300
	for i := 1; i <= n; i++ {
		increment(t, s, "c", 1)
		if i%50 == 0 {
			// The active watcher has seen this value: the stuck one was offered it too.
			nextUntil(t, reader, valueIs(int64(i)), nil)
			if p := stuck.Pending(); p != 1 {
				t.Fatalf("after %d increments the stuck watcher holds %d updates, want 1", i, p)
			}
		}
	}
	u, err := stuck.Next(watchContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if u.Counter.Value != n {
		t.Fatalf("the stuck watcher's first update has value %d, want the latest, %d", u.Counter.Value, n)
	}
}

// TestWatchReportsEveryKindOfChange: resizes, resets and deletes are delivered, and a counter
// created anew after a delete is reported again, with its new creation time.
func TestWatchReportsEveryKindOfChange(t *testing.T) {
	t.Parallel()
	s := newStore(t, watchOptions)
	ctx := context.Background()
	created, err := s.Create(ctx, "c", 4)
	if err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, s, "c", 0)
	atItsTime := func(u shard.WatchUpdate) { matchesReadAt(t, s, u) }
	first := nextUntil(t, w, valueIs(0), atItsTime)
	if first.Counter.ShardCount != 4 || !first.Counter.CreateTime.Equal(created.CreateTime) {
		t.Fatalf("first update %+v, want the created counter %+v", first.Counter, created)
	}
	increment(t, s, "c", 5)
	nextUntil(t, w, valueIs(5), atItsTime)

	resized, err := s.Resize(ctx, "c", 2)
	if err != nil {
		t.Fatal(err)
	}
	u := nextUntil(t, w, func(u shard.WatchUpdate) bool { return u.Counter.ShardCount == 2 }, atItsTime)
	if u.Counter.Value != 5 || !u.Counter.UpdateTime.Equal(resized.UpdateTime) {
		t.Fatalf("after the resize: %+v, want value 5 and update time %v", u.Counter, resized.UpdateTime)
	}

	reset, err := s.Reset(ctx, "c", "")
	if err != nil {
		t.Fatal(err)
	}
	u = nextUntil(t, w, valueIs(0), atItsTime)
	if !u.Counter.UpdateTime.After(resized.UpdateTime) || u.Counter.ReadTime.Before(reset.CommitTime) {
		t.Fatalf("after the reset at %v: %+v", reset.CommitTime, u.Counter)
	}
	increment(t, s, "c", 3)
	nextUntil(t, w, valueIs(3), atItsTime)

	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	u = nextUntil(t, w, func(u shard.WatchUpdate) bool { return u.Deleted }, atItsTime)
	if u.Counter.ID != "c" || u.Counter.Value != 0 || u.Counter.ShardCount != 0 {
		t.Fatalf("the delete's update holds %+v, want only the id and read time", u.Counter)
	}

	again := increment(t, s, "c", 2) // creates the counter anew
	u = nextUntil(t, w, valueIs(2), func(u shard.WatchUpdate) {
		if u.Deleted {
			t.Fatalf("deleted again at %v before the new counter showed", u.Counter.ReadTime)
		}
	})
	if !u.Counter.CreateTime.After(created.CreateTime) || u.Counter.CreateTime.After(again.CommitTime) {
		t.Fatalf("the counter created anew at %v shows create time %v", again.CommitTime, u.Counter.CreateTime)
	}
}

// TestWatchStartErrors: a counter that does not exist is ErrNotFound; bad arguments are refused
// before anything is watched.
func TestWatchStartErrors(t *testing.T) {
	t.Parallel()
	s := newStore(t, watchOptions)
	mustCreate(t, s, "gone")
	if err := s.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		interval time.Duration
		want     error
	}{
		{"never existed", "missing", 0, shard.ErrNotFound},
		{"deleted", "gone", 0, shard.ErrNotFound},
		{"malformed id", "a/b", 0, shard.ErrInvalidArgument},
		{"negative interval", "gone", -time.Second, shard.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.Watch(watchContext(t), tt.id, tt.interval)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Watch(%q, %v) = %v, %v; want %v", tt.id, tt.interval, w, err, tt.want)
			}
		})
	}
	// A refused watch leaves nothing open.
	if got := openWatches(s); got != (shard.WatchStats{}) {
		t.Fatalf("WatchStats %+v after refused watches, want none", got)
	}
}

// TestCloseEndsWatches: closing the store ends every watch with ErrClosed and closes the
// listeners; a watch closed by its owner fails its Next with ErrClosed too.
func TestCloseEndsWatches(t *testing.T) {
	t.Parallel()
	s := newStore(t, watchOptions)
	mustCreate(t, s, "c")
	w := startWatch(t, s, "c", 0)
	mine := startWatch(t, s, "c", 0)
	mine.Close()
	if _, err := mine.Next(watchContext(t)); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
	// Next returns the pending first update before it sees the store close; drain it.
	nextUntil(t, w, valueIs(0), nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Next(watchContext(t)); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("Next after the store closed: %v, want ErrClosed", err)
	}
	if got := s.WatchStats(); got.Listeners != 0 || got.Hubs != 0 {
		t.Fatalf("WatchStats %+v after Close, want no listener", got)
	}
	if _, err := s.Watch(watchContext(t), "c", 0); !errors.Is(err, shard.ErrClosed) {
		t.Fatalf("Watch after Close: %v, want ErrClosed", err)
	}
}

// TestWatchCoalesces: a watcher's updates are at least its interval apart, and the last one has
// the latest value.
func TestWatchCoalesces(t *testing.T) {
	t.Parallel()
	s := newStore(t, watchOptions)
	mustCreate(t, s, "c")
	const interval = 100 * time.Millisecond
	w := startWatch(t, s, "c", interval)
	const n = 100
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if _, err := s.Increment(context.Background(), "c", 1, ""); err != nil {
				t.Errorf("increment: %v", err)
				return
			}
		}
	}()
	// An update goes out no sooner than the interval after the previous one went out, which was
	// after the previous Next began: so each update returns at least the interval after the
	// call before it began, however the goroutines are scheduled.
	ctx := watchContext(t)
	var prevCall time.Time
	for i := 0; ; i++ {
		call := time.Now()
		u, err := w.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(prevCall); i > 0 && got < interval {
			t.Errorf("update %d returned %v after the call before it began, less than the interval %v", i, got, interval)
		}
		prevCall = call
		if u.Counter.Value == n {
			break
		}
	}
	<-done
}

// matchesReadAt checks an update against what GetAt reads at the update's read time: the same
// configuration and value, or not found for a delete.
func matchesReadAt(t *testing.T, s *shard.Counters, u shard.WatchUpdate) {
	t.Helper()
	c, err := s.GetAt(context.Background(), u.Counter.ID, u.Counter.ReadTime)
	if u.Deleted {
		if !errors.Is(err, shard.ErrNotFound) {
			t.Errorf("deleted at %v, but GetAt then gives %+v, %v", u.Counter.ReadTime, c, err)
		}
		return
	}
	if err != nil {
		t.Errorf("GetAt(%v) of update %+v: %v", u.Counter.ReadTime, u.Counter, err)
		return
	}
	if *c != *u.Counter {
		t.Errorf("update %+v, but GetAt at its read time gives %+v", *u.Counter, *c)
	}
}

// TestWatchUpdatesAreReadsAtTheirTimes watches a counter on one server while others increment,
// resize, reset, delete and create it again concurrently: every update equals a point-in-time
// read at its read time, and the last one is the final state.
func TestWatchUpdatesAreReadsAtTheirTimes(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	watcher := storeOn(t, em, watchOptions)
	writers := []*shard.Counters{storeOn(t, em, watchOptions), storeOn(t, em, watchOptions)}
	ctx := context.Background()
	if _, err := writers[0].Create(ctx, "c", 3); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, watcher, "c", 0)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, s := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Increment(ctx, "c", int64(i+1), ""); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		}()
	}
	admin := writers[0]
	steps := []func() error{
		func() error { _, err := admin.Resize(ctx, "c", 5); return err },
		func() error { _, err := admin.Reset(ctx, "c", ""); return err },
		func() error { _, err := admin.Resize(ctx, "c", 1); return err },
		func() error { return admin.Delete(ctx, "c") }, // the increments create it again
		func() error { _, err := admin.Reset(ctx, "c", ""); return err },
		func() error { _, err := admin.Resize(ctx, "c", 2); return err },
	}
	var seen []shard.WatchUpdate
	for i, step := range steps {
		if err := step(); err != nil && !errors.Is(err, shard.ErrNotFound) {
			t.Fatalf("step %d: %v", i, err)
		}
		// Let the watcher see past the step before the next one.
		after := time.Now()
		nextUntil(t, w, func(u shard.WatchUpdate) bool { return u.Counter.ReadTime.After(after) },
			func(u shard.WatchUpdate) { seen = append(seen, u) })
	}
	close(stop)
	wg.Wait()
	final, err := admin.Get(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	nextUntil(t, w, valueIs(final.Value), func(u shard.WatchUpdate) { seen = append(seen, u) })
	deletes := 0
	for _, u := range seen {
		matchesReadAt(t, watcher, u)
		if u.Deleted {
			deletes++
		}
	}
	t.Logf("%d updates, %d of them deletes; final value %d", len(seen), deletes, final.Value)
}

// TestWatchedCountersAreBounded: past MaxWatchedCounters a watch of another counter fails with
// ErrTooManyWatched, opening no listener, while more watchers of a watched counter still join;
// once a counter's last watcher leaves, another counter may be watched.
func TestWatchedCountersAreBounded(t *testing.T) {
	t.Parallel()
	opts := watchOptions
	opts.MaxWatchedCounters = 2
	s := newStore(t, opts)
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, s, id)
	}
	a := startWatch(t, s, "a", 0)
	startWatch(t, s, "b", 0)
	if w, err := s.Watch(watchContext(t), "c", 0); !errors.Is(err, shard.ErrTooManyWatched) {
		t.Fatalf("a third counter: %v, %v; want ErrTooManyWatched", w, err)
	}
	startWatch(t, s, "a", 0) // shares a's hub
	if got, want := openWatches(s), (shard.WatchStats{Hubs: 2, Listeners: 4, Watchers: 3}); got != want {
		t.Fatalf("WatchStats %+v, want %+v", got, want)
	}
	a.Close() // a still has a watcher
	if _, err := s.Watch(watchContext(t), "c", 0); !errors.Is(err, shard.ErrTooManyWatched) {
		t.Fatalf("a third counter while two are watched: %v; want ErrTooManyWatched", err)
	}
}
