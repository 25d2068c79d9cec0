// Package crash runs the durability half of the comparison: clients increment a store's counter
// while the store's server is SIGKILLed and restarted, then the counter is read and set against
// the increments that were acknowledged.
//
// A client retries a failed increment the way a typical user does: it calls again after a short
// pause, with the same id (which only a store with idempotency keys uses), until the store
// acknowledges it. After the last restart the clients start no new increment and finish the ones
// in flight, so that, unless one could not be finished in time, every increment started was
// acknowledged.
package crash

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Target is the store under test (systems.System has these methods).
type Target interface {
	Increment(ctx context.Context, client int, id string) error
	Value(ctx context.Context) (int64, error)
	Kill() error
	Restart(ctx context.Context) error
}

// Options are the shape of one run.
type Options struct {
	Clients int
	Kills   int
	// Every is how long the store takes increments before each kill, and after the last restart.
	Every time.Duration
	// Down is how long the server stays dead before it is restarted.
	Down time.Duration
	// Attempt bounds one call; Drain bounds the time to finish the increments in flight at the end.
	Attempt, Drain time.Duration
	// Prefix starts every increment's id.
	Prefix string
}

// Result is what one run counted.
type Result struct {
	Kills int
	// Started is the increments begun, Acked those acknowledged (each once, however many calls it
	// took), Unacked those given up at the end of the drain without an acknowledgement.
	Started, Acked, Unacked int64
	// Retries is the calls that failed and were made again.
	Retries int64
	// Value is the counter read at the end.
	Value int64
}

// Lost is the acknowledged increments missing from the value: Acked − Value when positive. It is
// a lower bound: an increment counted twice hides one lost.
func (r Result) Lost() int64 { return max(0, r.Acked-r.Value) }

// Extra is the increments in the value beyond those acknowledged: Value − Acked when positive,
// the increments applied twice (a retry of one whose answer was lost in a kill) or applied but
// never acknowledged (at most Unacked of them). Like Lost, it is net: a loss hides one.
func (r Result) Extra() int64 { return max(0, r.Value-r.Acked) }

// Doubled is the least number of increments that must have been counted twice: Extra beyond
// what the unacknowledged increments explain.
func (r Result) Doubled() int64 { return max(0, r.Extra()-r.Unacked) }

// Run runs the clients against t, kills and restarts it o.Kills times, and reads its value.
func Run(ctx context.Context, t Target, o Options) (Result, error) {
	var (
		started, acked, unacked, retries atomic.Int64
		stopping                         = make(chan struct{})
		wg                               sync.WaitGroup
		drainUntil                       atomic.Int64 // unix nanoseconds, set when stopping
	)
	for c := range o.Clients {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-stopping:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", o.Prefix, c, seq)
				started.Add(1)
				pause := 10 * time.Millisecond
				for {
					actx, cancel := context.WithTimeout(ctx, o.Attempt)
					err := t.Increment(actx, c, id)
					cancel()
					if err == nil {
						acked.Add(1)
						break
					}
					if d := drainUntil.Load(); ctx.Err() != nil || (d != 0 && time.Now().UnixNano() > d) {
						unacked.Add(1)
						return
					}
					retries.Add(1)
					time.Sleep(pause)
					pause = min(2*pause, 200*time.Millisecond)
				}
			}
		})
	}
	r := Result{}
	var runErr error
	for range o.Kills {
		if !sleep(ctx, o.Every) {
			break
		}
		if err := t.Kill(); err != nil {
			runErr = err
			break
		}
		r.Kills++
		if !sleep(ctx, o.Down) {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := t.Restart(rctx)
		cancel()
		if err != nil {
			runErr = fmt.Errorf("restart after kill %d: %w", r.Kills, err)
			break
		}
	}
	if runErr == nil {
		sleep(ctx, o.Every)
	}
	drainUntil.Store(time.Now().Add(o.Drain).UnixNano())
	close(stopping)
	wg.Wait()
	r.Started, r.Acked, r.Unacked, r.Retries = started.Load(), acked.Load(), unacked.Load(), retries.Load()
	if runErr != nil {
		return r, runErr
	}
	var err error
	for range 20 { // the store has just been restarted: give it a few tries
		vctx, cancel := context.WithTimeout(ctx, o.Attempt)
		r.Value, err = t.Value(vctx)
		cancel()
		if err == nil {
			return r, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r, fmt.Errorf("reading the value: %w", err)
}

// sleep waits d or until ctx ends, and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
