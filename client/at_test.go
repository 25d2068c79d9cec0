package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tally-dev/tally/client"
)

// TestGetAt reads a counter, and a batch, at the moments after each of a run of writes
// (increments, a resize, a reset): each read shows the value acknowledged by then.
func TestGetAt(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	name, other := counterName(t, "c"), counterName(t, "other")
	beforeCreation := time.Now()
	if _, err := c.Increment(ctx, other, 100); err != nil {
		t.Fatal(err)
	}

	type moment struct {
		at    time.Time
		value int64
	}
	var moments []moment
	steps := []struct {
		name  string
		write func() error
		value int64 // the value once it was acknowledged
	}{
		{"create", func() error { _, err := c.Create(ctx, name, client.CounterConfig{ShardCount: 2}); return err }, 0},
		{"increment", func() error { _, err := c.Increment(ctx, name, 5); return err }, 5},
		{"increment again", func() error { _, err := c.Increment(ctx, name, -2); return err }, 3},
		{"resize", func() error { _, err := c.Resize(ctx, name, 5); return err }, 3},
		{"increment after the resize", func() error { _, err := c.Increment(ctx, name, 10); return err }, 13},
		{"reset", func() error { _, err := c.Reset(ctx, name); return err }, 0},
		{"increment after the reset", func() error { _, err := c.Increment(ctx, name, 4); return err }, 4},
	}
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		moments = append(moments, moment{at: time.Now(), value: s.value})
	}

	for i, m := range moments {
		got, err := c.Get(ctx, name, client.At(m.at))
		if err != nil {
			t.Fatalf("Get at %v (after %s): %v", m.at, steps[i].name, err)
		}
		if got.Value != m.value || got.ReadTime.After(m.at) {
			t.Errorf("after %s: value %d read at %v, want %d read by %v", steps[i].name, got.Value, got.ReadTime, m.value, m.at)
		}
		batch, err := c.BatchGet(ctx, []string{name, other}, client.At(m.at))
		if err != nil {
			t.Fatalf("BatchGet at %v: %v", m.at, err)
		}
		if batch[0].Value != m.value || batch[1].Value != 100 {
			t.Errorf("after %s: batch values %d and %d, want %d and 100", steps[i].name, batch[0].Value, batch[1].Value, m.value)
		}
	}

	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"before the counter existed", beforeCreation, client.ErrNotFound},
		{"in the future", time.Now().Add(time.Hour), client.ErrInvalidArgument},
		{"older than the storage keeps", time.Now().Add(-48 * time.Hour).Truncate(time.Minute), client.ErrFailedPrecondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Get(ctx, name, client.At(tc.at)); !errors.Is(err, tc.want) {
				t.Errorf("Get at %v: %v, want %v", tc.at, err, tc.want)
			}
		})
	}
}
