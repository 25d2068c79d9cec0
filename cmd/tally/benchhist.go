package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets, as HDR histograms do:
// below subBuckets nanoseconds every value has a bucket of its own; above,
// each power of two is split into subBuckets equal buckets. A bucket is then
// at most 1/subBuckets = 0.8% of its values wide, and a quantile, reported
// as its bucket's midpoint, is within 0.4% of the exact sample's value. The
// largest value is kept exactly. The zero value is ready to use; it is not
// safe for concurrent use.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
	sum    time.Duration
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits
	// maxExponent covers values below 2^(maxExponent+subBucketBits+1) ns,
	// about 73 minutes; larger ones are counted in the last bucket.
	maxExponent = 34
	histBuckets = subBuckets + (maxExponent+1)*subBuckets
)

// bucketOf returns the index of the bucket holding v nanoseconds.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(v) - subBucketBits - 1 // v >> exp is in [subBuckets, 2*subBuckets)
	if exp > maxExponent {
		return histBuckets - 1
	}
	return subBuckets + exp*subBuckets + int(v>>exp) - subBuckets
}

// bucketBounds returns the smallest value of bucket i and its width.
func bucketBounds(i int) (low, width uint64) {
	if i < subBuckets {
		return uint64(i), 1
	}
	exp := (i - subBuckets) / subBuckets
	mantissa := uint64(subBuckets + (i-subBuckets)%subBuckets)
	return mantissa << exp, 1 << exp
}

// record adds one latency; a negative one counts as 0.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
	h.sum += d
}

// merge adds every value of o.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
	h.sum += o.sum
}

func (h *histogram) reset() { *h = histogram{} }

// quantile returns the value below which a fraction q (0 to 1) of the
// values lie: the value of rank ceil(q*n), as a sorted list of the samples
// would give it, to the precision of its bucket. It is 0 for an empty
// histogram; q=1 is the exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 || math.IsNaN(q) {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(max(q, 0) * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketBounds(i)
			mid := low + (width-1)/2
			return min(time.Duration(mid), h.max)
		}
	}
	return h.max
}

// mean returns the average value, 0 for an empty histogram.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
