package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tally-dev/tally/client"
	"github.com/tally-dev/tally/internal/dropproxy"
)

const watchMethod = "/tally.v1.CounterService/WatchCounter"

// watcher consumes a Watch on a goroutine of its own and hands its updates to the test.
type watcher struct {
	updates chan client.Update
	end     chan error // the final error, or nil when the iteration ended without one
}

func startWatch(ctx context.Context, c *client.Client, name string, opts ...client.WatchOption) *watcher {
	w := &watcher{updates: make(chan client.Update, 1024), end: make(chan error, 1)}
	go func() {
		for u, err := range c.Watch(ctx, name, opts...) {
			if err != nil {
				w.end <- err
				return
			}
			w.updates <- u
		}
		w.end <- nil
	}()
	return w
}

// until returns the updates up to and including the first that satisfies done.
func (w *watcher) until(t *testing.T, ctx context.Context, what string, done func(client.Update) bool) []client.Update {
	t.Helper()
	var seen []client.Update
	for {
		select {
		case u := <-w.updates:
			seen = append(seen, u)
			if done(u) {
				return seen
			}
		case err := <-w.end:
			t.Fatalf("the watch ended (%v) before %s; updates: %+v", err, what, seen)
		case <-ctx.Done():
			t.Fatalf("no update %s before the test's deadline; updates: %+v", what, seen)
		}
	}
}

func valueIs(v int64) func(client.Update) bool {
	return func(u client.Update) bool { return !u.Deleted && u.Counter.Value == v }
}

// TestWatchThroughBrokenStreams watches a counter through a proxy that breaks the first two
// streams' connections after their first update (the current value, which the second and third
// stream repeat and the watch does not report again): the watch reconnects by itself and follows
// the increments, a delete and a re-creation to the exact values. After one update, not more: the
// server coalesces updates to at least its minimum interval, so how many a burst of increments
// makes depends on the machine's speed.
func TestWatchThroughBrokenStreams(t *testing.T) {
	t.Parallel()
	breakEarly := func(c dropproxy.Call) dropproxy.Fault {
		if c.Method == watchMethod && c.N <= 2 {
			return dropproxy.Fault{Action: dropproxy.BreakConnection, Messages: 1}
		}
		return dropproxy.Fault{}
	}
	proxy := dropproxy.Start(t, tallydAddr(), breakEarly)
	direct := newClient(t, tallydAddr())
	watching := newClient(t, proxy.Addr(), fastRetry)
	ctx := testContext(t)
	name := counterName(t, "c")
	if _, err := direct.Increment(ctx, name, 1); err != nil {
		t.Fatal(err)
	}

	watchCtx, stop := context.WithCancel(ctx)
	w := startWatch(watchCtx, watching, name, client.MinInterval(time.Millisecond))
	w.until(t, ctx, "with the first value", valueIs(1))
	const increments = 50
	for range increments {
		if _, err := direct.Increment(ctx, name, 1); err != nil {
			t.Fatal(err)
		}
	}
	seen := w.until(t, ctx, "with the final value", valueIs(1+increments))
	for i := 1; i < len(seen); i++ {
		if seen[i].Counter.Value < seen[i-1].Counter.Value {
			t.Errorf("the value went back from %d to %d", seen[i-1].Counter.Value, seen[i].Counter.Value)
		}
		if seen[i].Counter.ReadTime.Before(seen[i-1].Counter.ReadTime) {
			t.Errorf("the read time went back from %v to %v", seen[i-1].Counter.ReadTime, seen[i].Counter.ReadTime)
		}
	}
	if got := proxy.Seen(watchMethod); got < 3 {
		t.Errorf("%d watch streams reached the proxy, want at least 3 (two broken)", got)
	}

	if err := direct.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	w.until(t, ctx, "reporting the delete", func(u client.Update) bool { return u.Deleted })
	if _, err := direct.Increment(ctx, name, 7); err != nil {
		t.Fatal(err)
	}
	w.until(t, ctx, "with the new counter's value", valueIs(7))

	stop()
	select {
	case err := <-w.end:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the watch ended with %v, want context.Canceled", err)
		}
	case <-ctx.Done():
		t.Fatal("the watch did not end after its context was canceled")
	}
}

func TestWatchMissingCounter(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	var errs []error
	for u, err := range c.Watch(ctx, counterName(t, "missing")) {
		if err == nil {
			t.Fatalf("update %+v of a counter that does not exist", u)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrNotFound) {
		t.Errorf("errors %v, want one ErrNotFound", errs)
	}
}

// TestWatchStopsWhenTheLoopDoes breaks out of the loop: the stream ends, which the server sees
// as the stream's end, and the iteration does not go on.
func TestWatchStopsWhenTheLoopDoes(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	name := counterName(t, "c")
	if _, err := c.Increment(ctx, name, 3); err != nil {
		t.Fatal(err)
	}
	n := 0
	for u, err := range c.Watch(ctx, name) {
		if err != nil {
			t.Fatal(err)
		}
		if u.Counter.Value != 3 || u.Counter.ID != name {
			t.Errorf("update %+v, want %s at 3", u, name)
		}
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d updates, want 1", n)
	}
}
