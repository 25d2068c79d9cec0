package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestWatchCounterThroughTallyd watches a counter through tallyd as run() builds it (embedded
// storage checked against the deployed indexes, the call limits, the interceptors) while 16
// clients increment it: the watch sees the exact total, outlives --default-deadline, holds no
// slot of the call limit, and has a limit of its own; a name that is not UTF-8 is INVALID_ARGUMENT
// naming it; shutting down ends the watch with UNAVAILABLE at once rather than waiting for it.
func TestWatchCounterThroughTallyd(t *testing.T) {
	t.Parallel()
	// A default deadline of 1ms would cut a watch within its first updates; the unary calls
	// below carry deadlines of their own.
	srv := startTallyd(t, "", "--default-deadline=1ms", "--max-concurrent-calls=16", "--max-watches=2", "--min-watch-interval=1ms")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := dial(t, srv.addr)
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "live"}); err != nil {
		t.Fatal(err)
	}

	stream, err := c.WatchCounter(context.Background(), &tallyv1.WatchCounterRequest{Name: "counters/live"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetCounter().GetValue() != 0 {
		t.Fatalf("first update %v, %v; want value 0", first, err)
	}
	bad, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/\x80\xff"})
	if err == nil {
		_, err = bad.Recv()
	}
	if !hasFieldViolation(err, "name") {
		t.Fatalf("a name that is not UTF-8: %v, want INVALID_ARGUMENT naming name", err)
	}
	second, err := c.WatchCounter(context.Background(), &tallyv1.WatchCounterRequest{Name: "counters/live"})
	if err == nil {
		_, err = second.Recv()
	}
	if err != nil {
		t.Fatalf("a second watch within --max-watches: %v", err)
	}
	third, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/live"})
	if err == nil {
		_, err = third.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a watch past --max-watches: %v, want ResourceExhausted", err)
	}

	// 16 clients, as many as --max-concurrent-calls: the watches hold none of its slots.
	const clients, each = 16, 100
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/live", Delta: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var last int64
	for last != clients*each {
		u, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after value %d: %v", last, err)
		}
		if v := u.GetCounter().GetValue(); v < last || v > clients*each {
			t.Fatalf("value %d after %d; want values rising to %d", v, last, clients*each)
		}
		last = u.GetCounter().GetValue()
	}
	wg.Wait()

	if err := srv.stop(); err != nil {
		t.Fatalf("shutdown with watches open: %v", err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("the watch after shutdown: %v, want Unavailable", err)
			}
			break
		}
	}
}
