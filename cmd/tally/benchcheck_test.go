package main

import (
	"math"
	"strings"
	"testing"
)

func TestCheckBench(t *testing.T) {
	tests := []struct {
		name     string
		delta    int64
		counters []benchCounter
		final    []int64
		ok       bool
		message  string // a part of the message
	}{
		{
			name:     "exact",
			delta:    1,
			counters: []benchCounter{{id: "a", initial: 5, ackedN: 10, ackedSum: 10}, {id: "b", ackedN: 3, ackedSum: 3}},
			final:    []int64{15, 3},
			ok:       true,
			message:  "ok: 2 counters hold their initial values plus the 13 acknowledged increments",
		},
		{
			name:     "one more than acknowledged",
			delta:    1,
			counters: []benchCounter{{id: "a", ackedN: 10, ackedSum: 10}, {id: "b", ackedN: 3, ackedSum: 3}},
			final:    []int64{10, 4},
			message:  "MISMATCH in 1 of 2 counters: counter b is 4, want 3 (initial 0 + 3 acknowledged, sum 3; 0 of unknown outcome): 1 off, more than acknowledged",
		},
		{
			name:     "an acknowledged increment lost",
			delta:    2,
			counters: []benchCounter{{id: "a", initial: -4, ackedN: 10, ackedSum: 20}},
			final:    []int64{14},
			message:  "counter a is 14, want 16 (initial -4 + 10 acknowledged, sum 20; 0 of unknown outcome): 2 off, acknowledged increments lost",
		},
		{
			name:     "unknown outcomes: the low end",
			delta:    3,
			counters: []benchCounter{{id: "a", ackedN: 2, ackedSum: 6, unknownN: 4}},
			final:    []int64{6},
			ok:       true,
			message:  "ok: 1 counter holds its initial value plus the 2 acknowledged increments and at most the 4 of unknown outcome",
		},
		{
			name:     "unknown outcomes: the high end",
			delta:    3,
			counters: []benchCounter{{id: "a", ackedN: 2, ackedSum: 6, unknownN: 4}},
			final:    []int64{18},
			ok:       true,
		},
		{
			name:     "unknown outcomes: above the range",
			delta:    3,
			counters: []benchCounter{{id: "a", ackedN: 2, ackedSum: 6, unknownN: 4}},
			final:    []int64{19},
			message:  "counter a is 19, want 6 to 18",
		},
		{
			name:     "negative delta: the range goes down",
			delta:    -1,
			counters: []benchCounter{{id: "a", initial: 100, ackedN: 10, ackedSum: -10, unknownN: 5}},
			final:    []int64{85},
			ok:       true,
		},
		{
			name:     "negative delta: below the range",
			delta:    -1,
			counters: []benchCounter{{id: "a", initial: 100, ackedN: 10, ackedSum: -10, unknownN: 5}},
			final:    []int64{84},
			message:  "counter a is 84, want 85 to 90",
		},
		{
			name:     "sums beyond int64 do not wrap",
			delta:    1,
			counters: []benchCounter{{id: "a", initial: math.MaxInt64, ackedN: 1, ackedSum: 1}},
			final:    []int64{math.MinInt64},
			message:  "want 9223372036854775808 (initial 9223372036854775807",
		},
		{
			name:     "no counters were incremented",
			delta:    1,
			counters: []benchCounter{{id: "a", initial: 7}},
			final:    []int64{7},
			ok:       true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkBench(tc.delta, tc.counters, tc.final)
			if got.OK != tc.ok {
				t.Errorf("ok = %v, want %v: %s", got.OK, tc.ok, got.Message)
			}
			if !strings.Contains(got.Message, tc.message) {
				t.Errorf("message %q lacks %q", got.Message, tc.message)
			}
			if len(got.Counters) != len(tc.counters) {
				t.Fatalf("%d verdicts for %d counters", len(got.Counters), len(tc.counters))
			}
			for i, v := range got.Counters {
				if v.ID != tc.counters[i].id || v.Final != tc.final[i] || v.WantMin.Cmp(v.WantMax) > 0 {
					t.Errorf("verdict %d = %+v", i, v)
				}
			}
		})
	}
}
