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
