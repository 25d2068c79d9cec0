package load

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0, 1}, {1, 1}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %v, want 0", got)
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("Percentile([7], 99) = %v, want 7", got)
	}
}

func TestRun(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]bool{}
	calls := 0
	op := func(ctx context.Context, client int, id string) error {
		mu.Lock()
		if ids[id] {
			t.Errorf("id %q used twice", id)
		}
		ids[id] = true
		calls++
		fail := calls%10 == 0
		mu.Unlock()
		time.Sleep(time.Millisecond)
		if fail {
			return errors.New("every tenth call fails")
		}
		return nil
	}
	r := Run(context.Background(), 4, 50*time.Millisecond, 200*time.Millisecond, "x", op)
	if r.Clients != 4 || r.Window != 200*time.Millisecond {
		t.Fatalf("result %+v", r)
	}
	if r.Ops == 0 || r.Errors == 0 {
		t.Fatalf("ops %d, errors %d: want both counted", r.Ops, r.Errors)
	}
	if r.Acked < r.Ops {
		t.Errorf("acked %d < ops %d: the warm-up's calls are acknowledged too", r.Acked, r.Ops)
	}
	if r.Acked+int64(calls/10) < int64(calls)-4 {
		t.Errorf("acked %d of %d calls", r.Acked, calls)
	}
	if r.P50 < time.Millisecond || r.P99 < r.P50 {
		t.Errorf("p50 %v, p99 %v: each call takes at least 1ms", r.P50, r.P99)
	}
	if got, want := r.Throughput(), float64(r.Ops)/0.2; got != want {
		t.Errorf("throughput %v, want %v", got, want)
	}
}
