package main

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// benchCounter is what the final check knows of one counter.
type benchCounter struct {
	id       string
	initial  int64 // its value before the run
	ackedN   int64 // increments acknowledged during the run
	ackedSum int64 // the sum of their deltas
	unknownN int64 // increments that failed and may have been applied
}

// counterVerdict is the check of one counter: the values it may hold after
// the run, and the one it holds.
type counterVerdict struct {
	ID       string   `json:"id"`
	Initial  int64    `json:"initial"`
	Acked    int64    `json:"acknowledged"`
	AckedSum int64    `json:"acknowledged_sum"`
	Unknown  int64    `json:"unknown"`
	WantMin  *big.Int `json:"want_min"`
	WantMax  *big.Int `json:"want_max"`
	Final    int64    `json:"final"`
	OK       bool     `json:"ok"`
}

// benchCheck is the final check of every counter.
type benchCheck struct {
	OK       bool             `json:"ok"`
	Message  string           `json:"message"`
	Counters []counterVerdict `json:"counters"`
}

// checkBench compares each counter's final value with its initial value plus
// the acknowledged increments. An increment of unknown outcome (only
// without keys, or when retries ran out of time) may or may not have been
// applied, which widens the range by delta per such increment.
func checkBench(delta int64, counters []benchCounter, final []int64) benchCheck {
	check := benchCheck{OK: true}
	var acked, unknown int64
	var bad []string
	for i, c := range counters {
		base := new(big.Int).Add(big.NewInt(c.initial), big.NewInt(c.ackedSum))
		spread := new(big.Int).Mul(big.NewInt(c.unknownN), big.NewInt(delta))
		lo, hi := new(big.Int).Set(base), new(big.Int).Set(base)
		if spread.Sign() < 0 {
			lo.Add(lo, spread)
		} else {
			hi.Add(hi, spread)
		}
		v := counterVerdict{ID: c.id, Initial: c.initial, Acked: c.ackedN, AckedSum: c.ackedSum, Unknown: c.unknownN,
			WantMin: lo, WantMax: hi, Final: final[i]}
		f := big.NewInt(final[i])
		v.OK = f.Cmp(lo) >= 0 && f.Cmp(hi) <= 0
		if !v.OK {
			check.OK = false
			bad = append(bad, describeMismatch(v, f))
		}
		check.Counters = append(check.Counters, v)
		acked += c.ackedN
		unknown += c.unknownN
	}
	switch {
	case !check.OK:
		check.Message = fmt.Sprintf("MISMATCH in %d of %d counters: %s", len(bad), len(counters), strings.Join(bad, "; "))
	case unknown == 0:
		check.Message = fmt.Sprintf("ok: %s plus the %s acknowledged increments", holds(len(counters)), groupDigits(acked))
	default:
		check.Message = fmt.Sprintf("ok: %s plus the %s acknowledged increments and at most the %s of unknown outcome",
			holds(len(counters)), groupDigits(acked), groupDigits(unknown))
	}
	return check
}

func holds(n int) string {
	if n == 1 {
		return "1 counter holds its initial value"
	}
	return groupDigits(int64(n)) + " counters hold their initial values"
}

func describeMismatch(v counterVerdict, final *big.Int) string {
	want := v.WantMin.String()
	if v.WantMin.Cmp(v.WantMax) != 0 {
		want = fmt.Sprintf("%s to %s", v.WantMin, v.WantMax)
	}
	diff := new(big.Int).Sub(final, v.WantMax)
	what := "more than acknowledged"
	if final.Cmp(v.WantMin) < 0 {
		diff.Sub(v.WantMin, final)
		what = "acknowledged increments lost"
	}
	return fmt.Sprintf("counter %s is %d, want %s (initial %d + %s acknowledged, sum %d; %s of unknown outcome): %s off, %s",
		v.ID, v.Final, want, v.Initial, groupDigits(v.Acked), v.AckedSum, groupDigits(v.Unknown), diff, what)
}

// forEachCounter calls f for each of n counters, from up to parallel
// goroutines, and returns the first error.
func forEachCounter(n, parallel int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(n, parallel) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if stop || i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}

// setupParallelism is how many counters are read or created at once before
// and after the run.
const setupParallelism = 16

// initialValues reads each counter's value, creating the counters that do
// not exist.
func initialValues(ctx context.Context, clients []tallyv1.CounterServiceClient, names []string) ([]int64, error) {
	values := make([]int64, len(names))
	err := forEachCounter(len(names), setupParallelism, func(i int) error {
		client := clients[i%len(clients)]
		v, err := readOrCreate(ctx, client, names[i])
		if err != nil {
			return fmt.Errorf("before the run, reading or creating counter %s: %w", displayID(names[i]), err)
		}
		values[i] = v
		return nil
	})
	return values, err
}

func readOrCreate(ctx context.Context, client tallyv1.CounterServiceClient, name string) (int64, error) {
	c, err := client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: name})
	if status.Code(err) != codes.NotFound {
		return c.GetValue(), err
	}
	c, err = client.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: displayID(name)})
	if status.Code(err) == codes.AlreadyExists { // created meanwhile by someone else
		c, err = client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: name})
	}
	return c.GetValue(), err
}

// finalValues reads each counter's value after the run, retrying a read
// that fails with a transient error until ctx is done.
func finalValues(ctx context.Context, clients []tallyv1.CounterServiceClient, names []string) ([]int64, error) {
	values := make([]int64, len(names))
	seed := rand.Uint64()
	err := forEachCounter(len(names), setupParallelism, func(i int) error {
		client := clients[i%len(clients)]
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		for attempt := 0; ; attempt++ {
			c, err := client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: names[i]})
			if err == nil {
				values[i] = c.GetValue()
				return nil
			}
			if !retryable(callCode(ctx, err)) || !backoff(ctx, attempt, rng) {
				return fmt.Errorf("after the run, reading counter %s: %w", displayID(names[i]), err)
			}
		}
	})
	return values, err
}

// finalReadTimeout bounds the reads of the check, which still run after an
// interrupt.
const finalReadTimeout = 30 * time.Second
