package main

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// burst is n calls answered evenly over [from, to) of the run, each taking
// latency.
type burst struct {
	from, to time.Duration
	n        int
	latency  time.Duration
}

func TestRecorderSeconds(t *testing.T) {
	t.Parallel()
	full := func(i, n int) burst {
		return burst{from: time.Duration(i) * time.Second, to: time.Duration(i+1) * time.Second, n: n, latency: time.Millisecond}
	}
	tests := []struct {
		name    string
		calls   []burst
		finish  time.Duration
		lengths []time.Duration // of the seconds
		oks     []uint64
		lastP99 time.Duration // 0: not checked
	}{
		{"a last second of 5ms joins the one before",
			// The 16 calls answered in the last 5ms, at 3,200 calls/s on
			// their own, and slow: they count in the last second's p99.
			[]burst{full(0, 1200), full(1, 1000), full(2, 1100), {3 * time.Second, 3*time.Second + 5*time.Millisecond, 16, 50 * time.Millisecond}},
			3*time.Second + 5*time.Millisecond,
			[]time.Duration{time.Second, time.Second, time.Second + 5*time.Millisecond}, []uint64{1200, 1000, 1116}, 50 * time.Millisecond},
		{"a last second of half a second or more stands on its own",
			[]burst{full(0, 1000), full(1, 1000), {2 * time.Second, 2*time.Second + 600*time.Millisecond, 600, time.Millisecond}},
			2*time.Second + 600*time.Millisecond,
			[]time.Duration{time.Second, time.Second, 600 * time.Millisecond}, []uint64{1000, 1000, 600}, 0},
		{"a run shorter than half a second is one second of its length",
			[]burst{{0, 300 * time.Millisecond, 300, time.Millisecond}}, 300 * time.Millisecond,
			[]time.Duration{300 * time.Millisecond}, []uint64{300}, 0},
		{"a run of whole seconds",
			[]burst{full(0, 800), full(1, 900)}, 2 * time.Second,
			[]time.Duration{time.Second, time.Second}, []uint64{800, 900}, 0},
		{"a short last second after a stall joins the empty second",
			[]burst{full(0, 1000), {2 * time.Second, 2*time.Second + 10*time.Millisecond, 20, time.Millisecond}},
			2*time.Second + 10*time.Millisecond,
			[]time.Duration{time.Second, time.Second + 10*time.Millisecond}, []uint64{1000, 20}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
			rec := newRecorder(start)
			var total uint64
			for _, b := range tc.calls {
				step := (b.to - b.from) / time.Duration(b.n)
				for i := range b.n {
					end := start.Add(b.from + time.Duration(i)*step)
					rec.record(opIncrement, end.Add(-b.latency), end, codes.OK, false)
				}
				total += uint64(b.n)
			}
			seconds := rec.finish(start.Add(tc.finish))

			if len(seconds) != len(tc.lengths) {
				t.Fatalf("%d seconds %+v, want %d", len(seconds), seconds, len(tc.lengths))
			}
			var sum uint64
			var fullRate float64 // the highest rate of a whole second
			for i, s := range seconds {
				if s.length != tc.lengths[i] || s.ok != tc.oks[i] {
					t.Errorf("second %d: %d calls over %v, want %d over %v", i, s.ok, s.length, tc.oks[i], tc.lengths[i])
				}
				if s.length == time.Second {
					fullRate = max(fullRate, perSecond(s.ok, s.length))
				}
				sum += s.ok
			}
			if sum != total || rec.totals(opIncrement).ok != total {
				t.Errorf("the seconds hold %d calls, the totals %d, want every one of the %d", sum, rec.totals(opIncrement).ok, total)
			}
			if fullRate > 0 {
				for i, s := range seconds {
					if rate := perSecond(s.ok, s.length); rate > fullRate {
						t.Errorf("second %d: %g calls/s over %v, more than any whole second's %g", i, rate, s.length, fullRate)
					}
				}
			}
			if last := seconds[len(seconds)-1]; tc.lastP99 > 0 && (last.p99 < tc.lastP99*99/100 || last.p99 > tc.lastP99) {
				t.Errorf("the last second's p99 is %v, want %v, of the calls it joined", last.p99, tc.lastP99)
			}
		})
	}
}
