package shard

import (
	"math"
	"math/big"
	"testing"
)

func TestEvenSplitIsExactAndWithinBoundsWhereItCanBe(t *testing.T) {
	for _, n := range []int{1, 2, 3, 16, 1000} {
		lo, hi := shardBounds(n)
		for _, tc := range []struct {
			total  int64
			within bool
		}{
			{0, true},
			{-1, true},
			{12345, true},
			{hi * int64(n), true},
			{lo * int64(n), true},
			{math.MaxInt64, n == 1 || math.MaxInt64%int64(n) == 0},
			{math.MinInt64, n == 1 || math.MinInt64%int64(n) == 0},
		} {
			shares, ok := evenSplit(tc.total, n)
			if len(shares) != n {
				t.Fatalf("n=%d total=%d: %d shares", n, tc.total, len(shares))
			}
			if got := total(shares); got.Cmp(big.NewInt(tc.total)) != 0 {
				t.Errorf("n=%d total=%d: shares add up to %v", n, tc.total, got)
			}
			if ok != tc.within {
				t.Errorf("n=%d total=%d: within bounds %v, want %v", n, tc.total, ok, tc.within)
			}
			for _, v := range shares {
				if ok && !withinBounds(v, n) {
					t.Errorf("n=%d total=%d: share %d out of [%d, %d] although reported within", n, tc.total, v, lo, hi)
				}
			}
		}
	}
}

// TestShardBoundsKeepAnyTotalInInt64: n shards each within the bounds add up to an int64, so
// other servers' writes to the other shards can never take the total out of range.
func TestShardBoundsKeepAnyTotalInInt64(t *testing.T) {
	for _, n := range []int{1, 2, 7, 16, 1000} {
		lo, hi := shardBounds(n)
		top := new(big.Int).Mul(big.NewInt(hi), big.NewInt(int64(n)))
		bottom := new(big.Int).Mul(big.NewInt(lo), big.NewInt(int64(n)))
		if !top.IsInt64() || !bottom.IsInt64() {
			t.Errorf("n=%d: %d shards at the bounds add up to %v or %v, outside int64", n, n, bottom, top)
		}
	}
}
