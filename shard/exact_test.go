package shard_test

import (
	"context"
	"math"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// TestExactModeNearTheInt64Bounds: a total too close to the int64 bounds for the per-shard
// bounds puts the counter in exact mode, which every server notices before its next write, and
// the counter leaves it once the total moves back; the value is exact throughout.
func TestExactModeNearTheInt64Bounds(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	a, b := storeOn(t, em, shard.Options{}), storeOn(t, em, shard.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-test")
	ctx := context.Background()
	exact := func() bool {
		t.Helper()
		d, err := client.Doc("counters/o").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := d.Data()["exact"].(bool)
		return e
	}
	for range 5 { // b caches the counter in its fast mode
		if _, err := b.Increment(ctx, "o", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Increment(ctx, "o", math.MaxInt64-5, ""); err != nil {
		t.Fatal(err)
	}
	if !exact() {
		t.Fatal("a total of MaxInt64 over 16 shards did not put the counter in exact mode")
	}
	if _, err := b.Increment(ctx, "o", 1, ""); err == nil {
		t.Fatal("an increment past MaxInt64 through a server with an older view was acknowledged")
	}
	if got := mustValue(t, b, "o"); got != math.MaxInt64 {
		t.Fatalf("value %d, want MaxInt64", got)
	}
	for _, st := range []*shard.Counters{b, a, b} {
		if _, err := st.Increment(ctx, "o", -1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustValue(t, a, "o"); got != math.MaxInt64-3 {
		t.Fatalf("value %d, want MaxInt64-3", got)
	}
	if _, err := a.Increment(ctx, "o", math.MinInt64, ""); err != nil {
		t.Fatal(err)
	}
	if exact() {
		t.Fatal("a total of -4 left the counter in exact mode")
	}
	for i := range 20 {
		if _, err := []*shard.Counters{a, b}[i%2].Increment(ctx, "o", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustValue(t, a, "o"); got != 16 {
		t.Fatalf("value %d, want 16", got)
	}
}
