package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestRefusedWatchesAreCountedAsShed: a WatchCounter refused with RESOURCE_EXHAUSTED by one of
// the server's limits on watches is counted in /metrics as shed with that limit's reason, not as
// a call over the concurrency limit: with --max-watches 2, a third watch (watch_limit); with
// --max-watched-counters 1, a watch of a second counter, while more watches of the watched
// counter are served (watched_counters_limit).
func TestRefusedWatchesAreCountedAsShed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		flags   []string
		served  []string // watched in turn, each holding its stream
		refused string
		reason  string
	}{
		{"over --max-watches", []string{"--max-watches", "2"}, []string{"counters/first", "counters/first"}, "counters/first", "watch_limit"},
		{"over --max-watched-counters", []string{"--max-watched-counters", "1"}, []string{"counters/first", "counters/first"}, "counters/second", "watched_counters_limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startTallyd(t, "", append(tc.flags, "--admin-addr", "127.0.0.1:0")...)
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
				_, err = stream.Recv() // the first update: the watch holds its slot from here on
				return err
			}
			for i, name := range tc.served {
				if err := watch(name); err != nil {
					t.Fatalf("watch %d, of %s: %v", i+1, name, err)
				}
			}
			if err := watch(tc.refused); status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("one watch more, of %s: %v, want RESOURCE_EXHAUSTED", tc.refused, err)
			}
			metrics := scrape(t, srv.admin)
			for _, reason := range []string{"watch_limit", "watched_counters_limit", "concurrency_limit"} {
				want := 0.0
				if reason == tc.reason {
					want = 1
				}
				if got := counterValue(metrics, "tally_calls_shed_total", map[string]string{"reason": reason}); got != want {
					t.Errorf(`tally_calls_shed_total{reason=%q} = %v, want %v`, reason, got, want)
				}
			}
		})
	}
}
