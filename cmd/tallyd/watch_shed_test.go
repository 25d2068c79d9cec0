package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestRefusedWatchIsCountedAsShed: with --max-watches 2, a third WatchCounter is refused with
// RESOURCE_EXHAUSTED, and /metrics counts it as shed with the reason watch_limit, not as a call
// over the concurrency limit.
func TestRefusedWatchIsCountedAsShed(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "", "--max-watches", "2", "--admin-addr", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := dial(t, srv.addr)
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "watched"}); err != nil {
		t.Fatal(err)
	}
	watch := func() error {
		stream, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/watched"})
		if err != nil {
			return err
		}
		_, err = stream.Recv() // the first update: the watch holds its slot
		return err
	}
	for i := range 2 {
		if err := watch(); err != nil {
			t.Fatalf("watch %d of --max-watches 2: %v", i+1, err)
		}
	}
	if err := watch(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a third watch: %v, want RESOURCE_EXHAUSTED", err)
	}
	metrics := scrape(t, srv.admin)
	for reason, want := range map[string]float64{"watch_limit": 1, "concurrency_limit": 0} {
		if got := counterValue(metrics, "tally_calls_shed_total", map[string]string{"reason": reason}); got != want {
			t.Errorf(`tally_calls_shed_total{reason=%q} = %v, want %v`, reason, got, want)
		}
	}
}

// TestRefusedWatchOfOneCounterTooManyIsCountedAsShed: with --max-watched-counters 1, a watch of a
// second counter is refused with RESOURCE_EXHAUSTED by the sharding core's limit, and /metrics
// counts it as shed with the reason watched_counters_limit, while more watches of the watched
// counter are served.
func TestRefusedWatchOfOneCounterTooManyIsCountedAsShed(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "", "--max-watched-counters", "1", "--admin-addr", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := dial(t, srv.addr)
	for _, id := range []string{"first", "second"} {
		if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: id}); err != nil {
			t.Fatal(err)
		}
	}
	watch := func(name string) error {
		stream, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: name})
		if err != nil {
			return err
		}
		_, err = stream.Recv() // the first update: the counter is watched from here on
		return err
	}
	for i := range 2 {
		if err := watch("counters/first"); err != nil {
			t.Fatalf("watch %d of the watched counter: %v", i+1, err)
		}
	}
	if err := watch("counters/second"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a watch of a second counter: %v, want RESOURCE_EXHAUSTED", err)
	}
	metrics := scrape(t, srv.admin)
	for reason, want := range map[string]float64{"watched_counters_limit": 1, "watch_limit": 0, "concurrency_limit": 0} {
		if got := counterValue(metrics, "tally_calls_shed_total", map[string]string{"reason": reason}); got != want {
			t.Errorf(`tally_calls_shed_total{reason=%q} = %v, want %v`, reason, got, want)
		}
	}
}
