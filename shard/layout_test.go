package shard_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// TestShardLayout: a counter's shards are the documents counters/{id}/shards/{n}, whose count
// fields sum to the value and which carry the counter's generation.
func TestShardLayout(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s := storeOn(t, em, shard.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-test")
	ctx := context.Background()
	if _, err := s.Create(ctx, "c", 4); err != nil {
		t.Fatal(err)
	}
	const increments = 40
	for range increments {
		if _, err := s.Increment(ctx, "c", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := client.Doc("counters/c").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen := meta.Data()["generation"]
	if meta.Data()["shard_count"] != int64(4) || gen == nil {
		t.Fatalf("metadata %v, want shard_count 4 and a generation", meta.Data())
	}
	docs, err := client.Collection("counters/c/shards").Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, d := range docs {
		if n, err := strconv.Atoi(d.Ref.ID); err != nil || n < 0 || n >= 4 {
			t.Errorf("shard document %s is not one of shards 0..3", d.Ref.Path)
		}
		if d.Data()["generation"] != gen {
			t.Errorf("shard %s has generation %v, want the counter's %v", d.Ref.ID, d.Data()["generation"], gen)
		}
		count, _ := d.Data()["count"].(int64)
		sum += count
	}
	if len(docs) != 4 || sum != increments {
		t.Fatalf("%d shard documents sum to %d, want 4 (all created with the counter) summing to %d", len(docs), sum, increments)
	}
}

// TestShardsOfAnEarlierGenerationCountAsEmpty: shard documents left by an earlier incarnation
// of the counter (a server that had not seen a delete wrote them) are not part of the value,
// and increments, resizes and the value treat them as empty shards.
func TestShardsOfAnEarlierGenerationCountAsEmpty(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	s := storeOn(t, em, shard.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-test")
	ctx := context.Background()
	if _, err := s.Create(ctx, "c", 3); err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		if _, err := client.Doc("counters/c/shards/"+strconv.Itoa(n)).Set(ctx, map[string]any{"count": 1000, "generation": "earlier"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustValue(t, s, "c"); got != 0 {
		t.Fatalf("value %d, want 0: documents of an earlier generation were counted", got)
	}
	other := storeOn(t, em, shard.Options{}) // loads its view with the stale documents in it
	for i := range 30 {
		if _, err := []*shard.Counters{s, other}[i%2].Increment(ctx, "c", 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustValue(t, s, "c"); got != 30 {
		t.Fatalf("value %d, want 30", got)
	}
	if _, err := s.Resize(ctx, "c", 1); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, other, "c"); got != 30 {
		t.Fatalf("after shrinking: value %d, want 30", got)
	}
}
