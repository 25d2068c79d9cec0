package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramQuantiles compares the histogram's quantiles with the exact
// ones of the sorted samples: within 1%, and the maximum exact.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name   string
		sample func() time.Duration
	}{
		{"small exact values", func() time.Duration { return time.Duration(rng.IntN(128)) }},
		{"uniform 0 to 50ms", func() time.Duration { return time.Duration(rng.Int64N(int64(50 * time.Millisecond))) }},
		{"log-normal around 2ms", func() time.Duration {
			return time.Duration(float64(2*time.Millisecond) * math.Exp(rng.NormFloat64()))
		}},
		{"bimodal 300µs and 1.5s", func() time.Duration {
			if rng.IntN(100) < 3 {
				return 1500*time.Millisecond + time.Duration(rng.Int64N(int64(time.Millisecond)))
			}
			return 300*time.Microsecond + time.Duration(rng.Int64N(int64(50*time.Microsecond)))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = tc.sample()
				h.record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				exact := samples[max(int(math.Ceil(q*float64(len(samples))))-1, 0)]
				got := h.quantile(q)
				if diff := math.Abs(float64(got - exact)); diff > 0.01*float64(exact) && diff > 1 {
					t.Errorf("quantile(%g) = %v, exact %v: off by more than 1%%", q, got, exact)
				}
			}
			if h.max != samples[len(samples)-1] || h.quantile(1) != h.max {
				t.Errorf("max = %v, quantile(1) = %v, want %v", h.max, h.quantile(1), samples[len(samples)-1])
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		var h histogram
		for _, q := range []float64{0, 0.5, 1, math.NaN(), -1, 2} {
			if got := h.quantile(q); got != 0 {
				t.Errorf("empty quantile(%g) = %v, want 0", q, got)
			}
		}
		if h.mean() != 0 {
			t.Errorf("empty mean = %v", h.mean())
		}
	})
	t.Run("negative and huge values", func(t *testing.T) {
		var h histogram
		h.record(-time.Second)
		h.record(time.Duration(math.MaxInt64))
		if got := h.quantile(0.5); got != 0 {
			t.Errorf("median of {-1s as 0, max} = %v, want 0", got)
		}
		if got := h.quantile(1); got != time.Duration(math.MaxInt64) {
			t.Errorf("max = %v", got)
		}
		if got := h.quantile(0.99); got <= 0 {
			t.Errorf("p99 = %v, want the huge value's bucket", got)
		}
	})
	t.Run("buckets tile the values", func(t *testing.T) {
		// Every bucket starts where the one before ends, and a value falls
		// in the bucket whose bounds hold it.
		next := uint64(0)
		for i := range histBuckets - 1 {
			low, width := bucketBounds(i)
			if low != next {
				t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
			}
			if i >= subBuckets && float64(width)/float64(low) > 1.0/subBuckets {
				t.Fatalf("bucket %d is %d wide at %d: more than 1/%d", i, width, low, subBuckets)
			}
			for _, v := range []uint64{low, low + width - 1} {
				if got := bucketOf(v); got != i {
					t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
				}
			}
			next = low + width
		}
	})
	t.Run("merge", func(t *testing.T) {
		var a, b, both histogram
		for i := range 1000 {
			d := time.Duration(i) * time.Microsecond
			both.record(d)
			if i%2 == 0 {
				a.record(d)
			} else {
				b.record(d)
			}
		}
		a.merge(&b)
		if a != both {
			t.Errorf("merged histogram differs from one recording everything: p50 %v vs %v, n %d vs %d",
				a.quantile(0.5), both.quantile(0.5), a.n, both.n)
		}
	})
}
