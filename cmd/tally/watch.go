package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/tally-dev/tally/client"
	"google.golang.org/grpc/status"
)

func watchCommand() *command {
	return &command{
		name:    "watch",
		args:    "NAME [--min-interval D]",
		summary: "print a counter's value live, as it changes, until interrupted",
		details: `Prints the counter's current value, then its value after each change, one
line per update with the time it was read at, until interrupted (Ctrl-C),
which ends it with exit status 0. Changes closer together than the minimum
interval arrive as one update with the latest value; a watcher never falls
behind. A reset, a resize and a delete are printed too; after a delete the
watch goes on and shows the counter again if it is created anew. When the
connection breaks, a note goes to stderr and the watch reconnects, carrying on
from the current value. Fails with NOT_FOUND if the counter does not exist
when the watch starts.`,
		setup: func(fs *flag.FlagSet) action {
			minInterval := fs.Duration("min-interval", 0, "at most one update per `D` (default: the server's)")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				if *minInterval < 0 {
					return usageErrorf("--min-interval %s must not be negative", *minInterval)
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				updates := s.api.Watch(ctx, name,
					client.MinInterval(*minInterval),
					client.WatchRetry(client.RetryPolicy{MaxAttempts: -1, MaxBackoff: 5 * time.Second}),
					client.OnReconnect(func(err error) {
						fmt.Fprintf(s.stderr, "tally: watch interrupted (%s); reconnecting\n", status.Convert(err).Message())
					}))
				for u, err := range updates {
					if err != nil {
						if ctx.Err() != nil {
							return nil // interrupted: the way a watch ends
						}
						return err
					}
					if err := s.out.result(updateProto(u), updateLine(u)); err != nil {
						return err
					}
				}
				return nil
			}
		},
	}
}

// updateLine is the human form of one update: the read time, then the value
// and shards, or that the counter was deleted.
func updateLine(u client.Update) string {
	at := formatTime(timestampProto(u.Counter.ReadTime))
	if u.Deleted {
		return at + "  deleted"
	}
	return fmt.Sprintf("%s  %d  (%s)", at, u.Counter.Value, shardCount(counterProto(&u.Counter)))
}
