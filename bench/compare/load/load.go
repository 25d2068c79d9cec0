// Package load runs concurrent clients that each call an operation back to back for a fixed
// time, and measures the throughput and the latency of the calls that succeeded.
package load

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Op is one call by client (0 to clients-1); id is unique to the call.
type Op func(ctx context.Context, client int, id string) error

// Result is what one Run measured.
type Result struct {
	Clients int
	// Ops is the calls that succeeded and finished within the measured window, Errors those that
	// failed there.
	Ops, Errors int64
	Window      time.Duration // the measured window
	P50, P99    time.Duration // latency of the calls counted in Ops
	// Acked is every call that succeeded, during the warm-up and after the window too.
	Acked int64
}

// Throughput is the calls per second within the window.
func (r Result) Throughput() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Window.Seconds()
}

// errorPause is how long a client waits after a failed call, so that a failing store is not
// spun on.
const errorPause = 10 * time.Millisecond

// Run runs clients clients for warmup and then for window, the measured time, and waits for
// the calls in flight at the end. Each call's id is prefix, the client and a sequence number.
func Run(ctx context.Context, clients int, warmup, window time.Duration, prefix string, op Op) Result {
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+window)
	type tally struct {
		latencies     []time.Duration
		errors, acked int64
	}
	tallies := make([]tally, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			t := &tallies[c]
			for seq := 0; ctx.Err() == nil; seq++ {
				began := time.Now()
				if !began.Before(until) {
					return
				}
				err := op(ctx, c, fmt.Sprintf("%s-%d-%d", prefix, c, seq))
				ended := time.Now()
				counted := !began.Before(from) && !ended.After(until)
				if err != nil {
					if counted {
						t.errors++
					}
					time.Sleep(errorPause)
					continue
				}
				t.acked++
				if counted {
					t.latencies = append(t.latencies, ended.Sub(began))
				}
			}
		})
	}
	wg.Wait()
	r := Result{Clients: clients, Window: window}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.latencies...)
		r.Errors += t.errors
		r.Acked += t.acked
	}
	r.Ops = int64(len(all))
	slices.Sort(all)
	r.P50, r.P99 = Percentile(all, 50), Percentile(all, 99)
	return r
}

// Percentile is the p-th percentile of sorted by the nearest-rank method (0 for none).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted)) / 100)) // 1-based
	return sorted[max(0, min(rank-1, len(sorted)-1))]
}
