package main

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"
)

// killModel is what the kill test expects of its two counters, from the commit times of every
// acknowledged increment and reset.
//
// The emulator gives every commit its own time, strictly after every earlier commit's (and,
// across restarts, after every durable one), and applies commits in that order; a read-only
// transaction reads every document at one read time, seeing exactly the commits at or before it.
// Every increment and reset of the test is retried with its key until acknowledged, and an
// acknowledgement names the commit that applied it (a duplicate's names the original commit).
// So, with every request acknowledged, a counter's value at any time T is fully determined:
//
//   - the hot counter (increments and resizes, never reset): the number of increments committed
//     at or before T;
//   - the reset counter (increments, resets and resizes): the number of increments committed
//     after the last reset at or before T, and at or before T.
//
// A resize changes neither. An increment in flight across a reset is not ambiguous: its commit
// is before or after the reset's. The model is checked against the final values and against
// every value read during the run at its read time; the commit times themselves are checked
// when every key is repeated, whose duplicate must name the same commit.
type killModel struct {
	hot, incs, resets []int64 // commit times in Unix nanoseconds, sorted
}

func newKillModel(hot, incs, resets []int64) *killModel {
	m := &killModel{hot: slices.Clone(hot), incs: slices.Clone(incs), resets: slices.Clone(resets)}
	slices.Sort(m.hot)
	slices.Sort(m.incs)
	slices.Sort(m.resets)
	return m
}

// atOrBefore is how many of sorted times are at or before t.
func atOrBefore(sorted []int64, t int64) int {
	return sort.Search(len(sorted), func(i int) bool { return sorted[i] > t })
}

// lastReset is the commit time of the last reset at or before t, and whether there is one.
func (m *killModel) lastReset(t int64) (int64, bool) {
	n := atOrBefore(m.resets, t)
	if n == 0 {
		return 0, false
	}
	return m.resets[n-1], true
}

// hotAt is the hot counter's value read at t.
func (m *killModel) hotAt(t int64) int64 { return int64(atOrBefore(m.hot, t)) }

// resetAt is the reset counter's value read at t.
func (m *killModel) resetAt(t int64) int64 {
	n := atOrBefore(m.incs, t)
	if r, ok := m.lastReset(t); ok {
		n -= atOrBefore(m.incs, r)
	}
	return int64(n)
}

// ambiguity names an increment and a reset of the reset counter with the same commit time,
// which would leave the model undecided; they are separate commits, so it never happens unless a
// commit time was misreported.
func (m *killModel) ambiguity() error {
	for _, r := range m.resets {
		if i, found := slices.BinarySearch(m.incs, r); found {
			return fmt.Errorf("an increment and a reset both report commit time %s", time.Unix(0, m.incs[i]).UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}

// segments is how many runs of increments the resets cut the reset counter's history into, and
// how many increments the longest one has.
func (m *killModel) segments() (n, longest int) {
	prev := 0
	for _, r := range append(slices.Clone(m.resets), 1<<62) {
		k := atOrBefore(m.incs, r)
		longest = max(longest, k-prev)
		prev = k
		n++
	}
	return n, longest
}

func TestKillModel(t *testing.T) {
	t.Parallel()
	// Increments of the reset counter at 1, 2, 4, 5 and 9, resets at 3 and 6.
	m := newKillModel([]int64{5, 1, 3, 3}, []int64{9, 1, 2, 4, 5}, []int64{6, 3})
	for _, c := range []struct {
		t          int64
		hot, reset int64
	}{
		{0, 0, 0}, {1, 1, 1}, {2, 1, 2}, {3, 3, 0}, {4, 3, 1}, {5, 4, 2}, {6, 4, 0}, {8, 4, 0}, {9, 4, 1}, {100, 4, 1},
	} {
		if got := m.hotAt(c.t); got != c.hot {
			t.Errorf("hot at %d = %d, want %d", c.t, got, c.hot)
		}
		if got := m.resetAt(c.t); got != c.reset {
			t.Errorf("reset counter at %d = %d, want %d", c.t, got, c.reset)
		}
	}
	if err := m.ambiguity(); err != nil {
		t.Errorf("ambiguity: %v", err)
	}
	if n, longest := m.segments(); n != 3 || longest != 2 {
		t.Errorf("segments = %d, longest %d; want 3, 2", n, longest)
	}
	if err := newKillModel(nil, []int64{1, 3}, []int64{3}).ambiguity(); err == nil {
		t.Error("an increment and a reset at one time: no ambiguity reported")
	}
}
