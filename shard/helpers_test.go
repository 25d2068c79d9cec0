package shard_test

import (
	"context"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// newStore starts an in-memory emulator and returns a Counters on it.
func newStore(t testing.TB, opts shard.Options) *shard.Counters {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{})
	return storeOn(t, em, opts)
}

// storeOn returns another Counters (as another server would have) on the same emulator.
func storeOn(t testing.TB, em *emulator.Emulator, opts shard.Options) *shard.Counters {
	t.Helper()
	client := emulatortest.NewClient(t, em.Addr(), "tally-test")
	s, err := shard.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	return s
}

func mustValue(t testing.TB, s *shard.Counters, id string) int64 {
	t.Helper()
	c, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %q: %v", id, err)
	}
	return c.Value
}
