package client_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/client"
	"github.com/tally-dev/tally/internal/dropproxy"
)

const incrementMethod = "/tally.v1.CounterService/Increment"

// fastRetry keeps the tests' backoffs short, and bounds attempts by the test's context only.
var fastRetry = client.WithRetry(client.RetryPolicy{MaxAttempts: -1, InitialBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})

// mixedFaults loses answers after the server applied the calls, as a lost reply and as a broken
// connection, and refuses calls before they reach it, at different periods so that every
// combination comes up.
func mixedFaults(c dropproxy.Call) dropproxy.Fault {
	if c.Method != incrementMethod {
		return dropproxy.Fault{}
	}
	switch {
	case c.N%3 == 1:
		return dropproxy.Fault{Action: dropproxy.DropAnswer}
	case c.N%7 == 0:
		return dropproxy.Fault{Action: dropproxy.BreakConnection}
	case c.N%11 == 0:
		return dropproxy.Fault{Action: dropproxy.Refuse, Code: codes.ResourceExhausted}
	case c.N%13 == 0:
		return dropproxy.Fault{Action: dropproxy.Refuse, Code: codes.Aborted}
	case c.N%17 == 0:
		return dropproxy.Fault{Action: dropproxy.Refuse, Code: codes.Unavailable}
	}
	return dropproxy.Fault{}
}

// TestExactlyOnceThroughLostAnswers sends a thousand increments through a proxy that loses a
// third of the answers after tallyd applied them, breaks connections and refuses calls: the
// counter ends at exactly a thousand.
func TestExactlyOnceThroughLostAnswers(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 8, 125
	proxy := dropproxy.Start(t, tallydAddr(), mixedFaults)
	c := newClient(t, proxy.Addr(), fastRetry)
	name := counterName(t, "c")
	ctx := testContext(t)

	var retried atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				res, err := c.Increment(ctx, name, 1)
				if err != nil {
					errs <- err
					continue
				}
				if res.Duplicate {
					t.Errorf("Increment with a fresh key reported a duplicate: %+v", res)
				}
				if res.Attempts > 1 {
					retried.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Increment: %v", err)
	}

	if got := value(t, name); got != workers*perWorker {
		t.Errorf("value = %d, want %d", got, workers*perWorker)
	}
	dropped := proxy.Dropped(incrementMethod)
	if dropped < workers*perWorker/3 {
		t.Errorf("the proxy dropped %d applied answers, want at least a third of %d: the test did not test", dropped, workers*perWorker)
	}
	if retried.Load() == 0 {
		t.Error("no increment needed a retry")
	}
	t.Logf("%d calls reached the proxy, %d forwarded, %d applied answers lost; %d increments retried",
		proxy.Seen(incrementMethod), proxy.Forwarded(incrementMethod), dropped, retried.Load())
}

// dropEveryThird loses every third answer after tallyd applied the call, and only that, so
// that the lost answers can be counted exactly.
var dropEveryThird = dropproxy.Every(incrementMethod, 3, dropproxy.Fault{Action: dropproxy.DropAnswer})

// TestWithoutKeysLostAnswersCountTwice shows what the keys prevent, and that the proxy really
// loses answers of applied calls: a caller without keys that retries what failed counts every
// lost answer twice, while the same caller with keys counts exactly.
func TestWithoutKeysLostAnswersCountTwice(t *testing.T) {
	t.Parallel()
	const increments = 300
	tests := []struct {
		name string
		opts []client.WriteOption
		// overCount says whether each lost answer adds one to the value.
		overCount bool
	}{
		{"fresh keys", nil, false},
		{"without keys", []client.WriteOption{client.WithoutKey()}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy := dropproxy.Start(t, tallydAddr(), dropEveryThird)
			c := newClient(t, proxy.Addr(), fastRetry)
			name := counterName(t, "c")
			ctx := testContext(t)
			failed := 0
			for range increments {
				// A caller that retries what failed, as callers do.
				for {
					res, err := c.Increment(ctx, name, 1, tc.opts...)
					if err == nil {
						if tc.overCount && res.Attempts != 1 {
							t.Fatalf("without a key the client retried a call whose outcome was unknown: %+v", res)
						}
						break
					}
					if !errors.Is(err, client.ErrUnavailable) || ctx.Err() != nil {
						t.Fatalf("Increment: %v", err)
					}
					failed++
				}
			}
			dropped := proxy.Dropped(incrementMethod)
			if dropped < increments/3 {
				t.Fatalf("the proxy dropped %d answers, want at least %d", dropped, increments/3)
			}
			want := int64(increments)
			if tc.overCount {
				want += int64(dropped)
				if failed != dropped {
					t.Errorf("the caller saw %d failures, the proxy dropped %d answers", failed, dropped)
				}
			} else if failed != 0 {
				t.Errorf("with keys the caller saw %d failures, want none: the client retries them", failed)
			}
			if got := value(t, name); got != want {
				t.Errorf("value = %d, want %d (%d increments, %d answers lost)", got, want, increments, dropped)
			}
		})
	}
}

// TestOwnKeyReportsDuplicate uses a key of the caller's own: a repeat of the call reports
// duplicate and changes nothing, also when the first call's answer was lost and the client's
// own retry found the increment applied.
func TestOwnKeyReportsDuplicate(t *testing.T) {
	t.Parallel()
	dropFirst := func(c dropproxy.Call) dropproxy.Fault {
		if c.Method == incrementMethod && c.N == 1 {
			return dropproxy.Fault{Action: dropproxy.DropAnswer}
		}
		return dropproxy.Fault{}
	}
	proxy := dropproxy.Start(t, tallydAddr(), dropFirst)
	c := newClient(t, proxy.Addr(), fastRetry)
	name := counterName(t, "c")
	ctx := testContext(t)

	first, err := c.Increment(ctx, name, 5, client.WithKey("order-1"))
	if err != nil {
		t.Fatalf("Increment: %v", err)
	}
	// The first attempt was applied and its answer lost; the retry found the key applied.
	if !first.Duplicate || first.Attempts != 2 || first.Key != "order-1" {
		t.Errorf("first call = %+v, want a duplicate on the second attempt with key order-1", first)
	}
	again, err := c.Increment(ctx, name, 5, client.WithKey("order-1"))
	if err != nil {
		t.Fatalf("Increment again: %v", err)
	}
	if !again.Duplicate || again.Attempts != 1 || !again.CommitTime.Equal(first.CommitTime) {
		t.Errorf("repeat = %+v, want a duplicate at the first call's commit time %v", again, first.CommitTime)
	}
	fresh, err := c.Increment(ctx, name, 5, client.WithKey("order-2"))
	if err != nil {
		t.Fatalf("Increment with another key: %v", err)
	}
	if fresh.Duplicate {
		t.Errorf("a new key reported a duplicate: %+v", fresh)
	}
	if got := value(t, name); got != 10 {
		t.Errorf("value = %d, want 10", got)
	}
	_, err = c.Increment(ctx, name, 6, client.WithKey("order-1"))
	if !errors.Is(err, client.ErrFailedPrecondition) {
		t.Errorf("the key reused with another delta: %v, want ErrFailedPrecondition", err)
	}
}

// TestCanceledContextStopsRetrying cancels a call whose every answer is lost, once while an
// attempt is at the server and once as an answer is lost with an hour's backoff ahead: the call
// ends at once with the context's error and no further attempt reaches the server.
func TestCanceledContextStopsRetrying(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cancelAt int  // the attempt during which the context is canceled
		struck   bool // cancel once the attempt's answer was lost, rather than before forwarding it
		retry    client.RetryPolicy
	}{
		{"during an attempt", 3, false, client.RetryPolicy{MaxAttempts: -1, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}},
		// Unless the cancellation ends the wait, the test times out.
		{"before an hour's backoff", 1, true, client.RetryPolicy{MaxAttempts: -1, InitialBackoff: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			plan := func(c dropproxy.Call) dropproxy.Fault {
				if c.Method != incrementMethod {
					return dropproxy.Fault{}
				}
				f := dropproxy.Fault{Action: dropproxy.DropAnswer}
				if c.N == tc.cancelAt {
					if tc.struck {
						f.Struck = cancel
					} else {
						cancel()
					}
				}
				return f
			}
			proxy := dropproxy.Start(t, tallydAddr(), plan)
			c := newClient(t, proxy.Addr(), client.WithRetry(tc.retry))
			name := counterName(t, "c")
			_, err := c.Increment(ctx, name, 1)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Increment = %v, want context.Canceled", err)
			}
			if got := proxy.Seen(incrementMethod); got != tc.cancelAt {
				t.Errorf("%d attempts reached the proxy, want %d", got, tc.cancelAt)
			}
			if got := value(t, name); got != 1 {
				t.Errorf("value = %d, want 1: the first attempt was applied, once", got)
			}
		})
	}
}

// TestRetriesRunOut refuses every attempt: the call ends after MaxAttempts with the last error,
// and nothing reached tallyd.
func TestRetriesRunOut(t *testing.T) {
	t.Parallel()
	proxy := dropproxy.Start(t, tallydAddr(), dropproxy.Every(incrementMethod, 1, dropproxy.Fault{Action: dropproxy.Refuse, Code: codes.Unavailable}))
	c := newClient(t, proxy.Addr(), client.WithRetry(client.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond}))
	res, err := c.Increment(testContext(t), counterName(t, "c"), 1)
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Increment = %v, want ErrUnavailable", err)
	}
	if res.Attempts != 4 || proxy.Seen(incrementMethod) != 4 || proxy.Forwarded(incrementMethod) != 0 {
		t.Errorf("attempts %d, seen %d, forwarded %d: want 4, 4, 0", res.Attempts, proxy.Seen(incrementMethod), proxy.Forwarded(incrementMethod))
	}
}

// TestWithoutKeyRetriesWhatWasNotApplied: without a key, refusals in which nothing was applied
// are still retried.
func TestWithoutKeyRetriesWhatWasNotApplied(t *testing.T) {
	t.Parallel()
	for _, code := range []codes.Code{codes.ResourceExhausted, codes.Aborted} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			refuseFirst := func(c dropproxy.Call) dropproxy.Fault {
				if c.Method == incrementMethod && c.N <= 2 {
					return dropproxy.Fault{Action: dropproxy.Refuse, Code: code}
				}
				return dropproxy.Fault{}
			}
			proxy := dropproxy.Start(t, tallydAddr(), refuseFirst)
			c := newClient(t, proxy.Addr(), fastRetry)
			name := counterName(t, "c")
			res, err := c.Increment(testContext(t), name, 1, client.WithoutKey())
			if err != nil {
				t.Fatalf("Increment: %v", err)
			}
			if res.Attempts != 3 || res.Key != "" {
				t.Errorf("result %+v, want 3 attempts and no key", res)
			}
			if got := value(t, name); got != 1 {
				t.Errorf("value = %d, want 1", got)
			}
		})
	}
}
