package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCounterPicker draws many counters and compares each one's frequency
// with its expected share.
func TestCounterPicker(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		zipf  bool
		s     float64
		share []float64 // expected; nil: uniform
	}{
		{name: "one counter", n: 1, share: []float64{1}},
		{name: "uniform", n: 4},
		{name: "zipf s=1", n: 3, zipf: true, s: 1, share: []float64{6.0 / 11, 3.0 / 11, 2.0 / 11}},
		{name: "zipf s=0.99 over many", n: 1000, zipf: true, s: 0.99},
		{name: "zipf s=2", n: 2, zipf: true, s: 2, share: []float64{0.8, 0.2}},
		{name: "zipf with one counter", n: 1, zipf: true, s: 1.5, share: []float64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newCounterPicker(tc.n, tc.zipf, tc.s)
			rng := rand.New(rand.NewPCG(7, 11))
			const draws = 200000
			counts := make([]int, tc.n)
			for range draws {
				k := p.pick(rng)
				if k < 0 || k >= tc.n {
					t.Fatalf("pick = %d, want 0 to %d", k, tc.n-1)
				}
				counts[k]++
			}
			total := 0.0
			for k := range tc.n {
				total += p.share(k)
				if tc.share != nil && math.Abs(p.share(k)-tc.share[k]) > 1e-9 {
					t.Errorf("share(%d) = %g, want %g", k, p.share(k), tc.share[k])
				}
				if !tc.zipf && math.Abs(p.share(k)-1/float64(tc.n)) > 1e-9 {
					t.Errorf("uniform share(%d) = %g", k, p.share(k))
				}
			}
			if math.Abs(total-1) > 1e-9 {
				t.Errorf("shares add up to %g", total)
			}
			// The hottest ten counters: within 5 standard deviations of
			// their expected counts (the draws are the same every run).
			for k := range min(tc.n, 10) {
				want := p.share(k) * draws
				if sd := math.Sqrt(want * (1 - p.share(k))); math.Abs(float64(counts[k])-want) > 5*sd+1 {
					t.Errorf("counter %d drawn %d times, want about %.0f", k, counts[k], want)
				}
			}
			if tc.zipf && tc.n > 1 && counts[0] <= counts[tc.n-1] {
				t.Errorf("zipf: counter 0 drawn %d times, the last %d", counts[0], counts[tc.n-1])
			}
		})
	}
}
