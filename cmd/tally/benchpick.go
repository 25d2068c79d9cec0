package main

import (
	"math"
	"math/rand/v2"
	"sort"
)

// counterPicker chooses the counter of each call: uniformly, or with Zipf's
// law, counter k (from 0) in proportion to 1/(k+1)^s, so that counter 0 is
// the hottest. Unlike math/rand's Zipf it takes any s > 0, such as the 0.99
// that YCSB uses. It is safe for concurrent use with a rand.Rand per caller.
type counterPicker struct {
	n   int
	cdf []float64 // cumulative weights; nil for uniform
}

func newCounterPicker(n int, zipf bool, s float64) *counterPicker {
	p := &counterPicker{n: n}
	if zipf && n > 1 {
		p.cdf = make([]float64, n)
		total := 0.0
		for k := range n {
			total += math.Pow(float64(k+1), -s)
			p.cdf[k] = total
		}
	}
	return p
}

// pick returns a counter's index, from 0 to n-1.
func (p *counterPicker) pick(rng *rand.Rand) int {
	switch {
	case p.n <= 1:
		return 0
	case p.cdf == nil:
		return rng.IntN(p.n)
	}
	u := rng.Float64() * p.cdf[p.n-1]
	// The first counter whose cumulative weight exceeds u; rounding can
	// only make that the last one.
	return min(sort.Search(p.n, func(i int) bool { return p.cdf[i] > u }), p.n-1)
}

// share returns the fraction of calls that go to counter k.
func (p *counterPicker) share(k int) float64 {
	switch {
	case k < 0 || k >= p.n:
		return 0
	case p.cdf == nil:
		return 1 / float64(p.n)
	case k == 0:
		return p.cdf[0] / p.cdf[p.n-1]
	}
	return (p.cdf[k] - p.cdf[k-1]) / p.cdf[p.n-1]
}
