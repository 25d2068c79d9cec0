package main

import (
	"context"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestUsesTheEmulatorNamedByTheEnvironment: with FIRESTORE_EMULATOR_HOST set, tallyd stores
// counters in that emulator (the same code path as Cloud Firestore, only the address differs).
func TestUsesTheEmulatorNamedByTheEnvironment(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	srv := startTallydEnv(t, map[string]string{
		"FIRESTORE_EMULATOR_HOST": em.Addr(),
		"GOOGLE_CLOUD_PROJECT":    "env-project",
	}, "")
	c := dial(t, srv.addr)
	if _, err := c.Increment(context.Background(), &tallyv1.IncrementRequest{Name: "counters/visits", Delta: 7}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, c, "visits"); got != 7 {
		t.Fatalf("value %d, want 7", got)
	}
	meta, err := emulatortest.NewClient(t, em.Addr(), "env-project").Doc("counters/visits").Get(context.Background())
	if err != nil {
		t.Fatalf("the counter is not in the emulator named by FIRESTORE_EMULATOR_HOST: %v", err)
	}
	if meta.Data()["shard_count"] != int64(16) {
		t.Fatalf("counter metadata %v", meta.Data())
	}
}
