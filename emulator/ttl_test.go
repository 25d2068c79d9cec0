package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/ttl"
)

func TestTTLSweepDeletesExpiredDocuments(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{false, true} {
		name := "memory"
		if durable {
			name = "disk"
		}
		t.Run(name, func(t *testing.T) {
			opts := emulator.Options{
				TTL: []ttl.Policy{{CollectionGroup: "idempotency", Field: "expire_at"}},
				// Long enough that only SweepTTL deletes anything during the test.
				TTLInterval: time.Hour,
			}
			if durable {
				opts.DataDir = t.TempDir()
			}
			em := emulatortest.Start(t, opts)
			ctx := context.Background()
			past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
			primary := emulatortest.NewClient(t, em.Addr(), project)
			second := clientFor(t, em, project, "second")
			docs := []struct {
				client  *firestore.Client
				path    string
				data    map[string]any
				expired bool
			}{
				{primary, "idempotency/old", map[string]any{"expire_at": past}, true},
				{primary, "idempotency/new", map[string]any{"expire_at": future}, false},
				{primary, "idempotency/text", map[string]any{"expire_at": "yesterday"}, false},
				{primary, "idempotency/none", map[string]any{"n": 1}, false},
				{primary, "users/u1/idempotency/nested", map[string]any{"expire_at": past}, true},
				{primary, "other/o1", map[string]any{"expire_at": past}, false},
				{second, "idempotency/old", map[string]any{"expire_at": past}, true},
			}
			want := 0
			for _, d := range docs {
				if _, err := d.client.Doc(d.path).Set(ctx, d.data); err != nil {
					t.Fatalf("set %s: %v", d.path, err)
				}
				if d.expired {
					want++
				}
			}

			n, err := em.SweepTTL(ctx)
			if err != nil || n != want {
				t.Fatalf("SweepTTL = %d, %v; want %d, nil", n, err, want)
			}
			for _, d := range docs {
				if d.expired {
					mustNotExist(t, d.client.Doc(d.path))
				} else {
					mustGet(t, d.client.Doc(d.path))
				}
			}
			if n, err := em.SweepTTL(ctx); err != nil || n != 0 {
				t.Fatalf("second SweepTTL = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestStartRejectsInvalidTTLPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		policies []ttl.Policy
		wantErr  string
	}{
		{"bad collection group", []ttl.Policy{{CollectionGroup: "a/b", Field: "x"}}, "must not contain '/'"},
		{"bad field path", []ttl.Policy{{CollectionGroup: "a", Field: "x y"}}, "simple name"},
		{"two fields on one group", []ttl.Policy{{CollectionGroup: "a", Field: "x"}, {CollectionGroup: "a", Field: "y"}}, "at most one TTL field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em, err := emulator.Start(context.Background(), emulator.Options{InMemory: true, TTL: tt.policies})
			if err == nil {
				_ = em.Close()
				t.Fatal("Start accepted invalid TTL policies")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Start error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestTTLPolicyAddedToExistingData: documents written while the emulator ran without a policy
// expire once it restarts on the same data with one (the expiry index is built at startup).
func TestTTLPolicyAddedToExistingData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	start := func(policies []ttl.Policy) *emulator.Emulator {
		t.Helper()
		em, err := emulator.Start(ctx, emulator.Options{DataDir: dir, TTL: policies, TTLInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return em
	}
	em := start(nil)
	client := emulatortest.NewClient(t, em.Addr(), project)
	for _, path := range []string{"sessions/a", "sessions/b"} {
		if _, err := client.Doc(path).Set(ctx, map[string]any{"expires": time.Now().Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Doc("sessions/c").Set(ctx, map[string]any{"expires": time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}

	em = start([]ttl.Policy{{CollectionGroup: "sessions", Field: "expires"}})
	t.Cleanup(func() { _ = em.Close() })
	n, err := em.SweepTTL(ctx)
	if err != nil || n != 2 {
		t.Fatalf("SweepTTL = %d, %v; want the 2 expired sessions deleted", n, err)
	}
	client = emulatortest.NewClient(t, em.Addr(), project)
	docs, err := client.Collection("sessions").Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Ref.ID != "c" {
		t.Fatalf("%d sessions left, want only sessions/c", len(docs))
	}
}
