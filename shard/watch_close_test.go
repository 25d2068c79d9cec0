package shard_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/tally-dev/tally/shard"
)

// TestWatchCloseEndsACoalescingNext: Close (or the store closing) must end a Next that is
// waiting out the watch's interval, not leave it asleep for the rest of the interval.
func TestWatchCloseEndsACoalescingNext(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"watch closed", "store closed"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, watchOptions)
			ctx := context.Background()
			if _, err := s.Create(ctx, "c", 1); err != nil {
				t.Fatal(err)
			}
			w := startWatch(t, s, "c", time.Hour)
			if _, err := w.Next(ctx); err != nil {
				t.Fatal(err)
			}
			increment(t, s, "c", 1) // an update is pending; the next one is due in an hour
			done := make(chan error, 1)
			go func() {
				_, err := w.Next(ctx)
				done <- err
			}()
			for w.Pending() == 0 {
				runtime.Gosched() // the increment's update reaches the watch
			}
			if how == "watch closed" {
				w.Close()
			} else if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			// A deadline only to fail rather than hang: the interval is an hour.
			select {
			case err := <-done:
				if !errors.Is(err, shard.ErrClosed) {
					t.Fatalf("Next after %s: %v, want ErrClosed", how, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Next still waiting out its interval after the %s", how)
			}
		})
	}
}
