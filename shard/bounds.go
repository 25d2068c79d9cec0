package shard

import (
	"math"
	"math/big"
)

// The total of a counter must stay within int64, but a commit's precondition covers only the
// shards it writes, while other servers write the other shards at the same time. So the fast path
// keeps every shard within a per-shard bound: with n shards, each between MinInt64/n and
// MaxInt64/n, so that any n of them add up to an int64 whatever the other servers do. A write the
// bound refuses goes to the locked path, which reads every shard in a transaction, checks the exact
// total and spreads it evenly over the shards again.
//
// A total within n of the int64 bounds cannot be spread within the per-shard bounds. Such a counter
// is marked exact in its metadata, and every write to it takes the locked path until its total
// moves back. Entering or leaving that mode rewrites every shard, so that any server whose cached
// view predates it fails its next conditional write and reloads.

// shardBounds are the values a shard of an n-shard counter may hold outside exact mode.
func shardBounds(n int) (lo, hi int64) {
	return math.MinInt64 / int64(n), math.MaxInt64 / int64(n) // truncation keeps n·lo and n·hi in range
}

// withinBounds reports whether v stays within the per-shard bounds of an n-shard counter.
func withinBounds(v int64, n int) bool {
	lo, hi := shardBounds(n)
	return lo <= v && v <= hi
}

// total adds shard values exactly, however far out of int64 the sum would be.
func total(values []int64) *big.Int {
	t := new(big.Int)
	var v big.Int
	for _, x := range values {
		t.Add(t, v.SetInt64(x))
	}
	return t
}

// evenSplit spreads t over n shards: each gets t/n, and the remainder goes one by one to the
// first shards. ok is false when some share would be out of the per-shard bounds (t is within n
// of the int64 bounds); the shares are then still exact, and each fits in int64.
func evenSplit(t int64, n int) (shares []int64, ok bool) {
	q, r := t/int64(n), t%int64(n)
	shares = make([]int64, n)
	ok = true
	for i := range shares {
		shares[i] = q
		switch {
		case int64(i) < r:
			shares[i]++
		case int64(i) < -r:
			shares[i]--
		}
		ok = ok && withinBounds(shares[i], n)
	}
	return shares, ok
}

// addInt64 returns a+b+c and whether it fits in int64 (intermediate sums included).
func addInt64(a, b, c int64) (int64, bool) {
	s1 := a + b
	if (b > 0 && s1 < a) || (b < 0 && s1 > a) {
		return 0, false
	}
	s2 := s1 + c
	if (c > 0 && s2 < s1) || (c < 0 && s2 > s1) {
		return 0, false
	}
	return s2, true
}
