package main

import (
	"context"
	"flag"

	"github.com/tally-dev/tally/client"
)

func getCommand() *command {
	return &command{
		name:    "get",
		args:    "NAME... [--at TIME]",
		summary: "show counters' values, shard counts and create/update times",
		details: `Shows each named counter. Several names are read together at one
consistent time; if any of them does not exist, nothing is shown and the
command fails with NOT_FOUND.

With --at the counters are shown as they were at TIME, an RFC 3339 time
(2025-03-14T15:09:26Z) or a time ago (-5m, -1h30m): the exact values of that
instant. A time more than an hour ago must be a whole minute, as Firestore reads
there only at whole minutes (INVALID_ARGUMENT otherwise); a time ago that far back
is taken to its minute. TIME must not be in the future (INVALID_ARGUMENT) and must be within
the window the storage keeps versions for, an hour in the embedded and
emulator storage, Firestore's point-in-time recovery window in production
(FAILED_PRECONDITION otherwise). A counter created after TIME is NOT_FOUND.`,
		setup: func(fs *flag.FlagSet) action {
			var at timeFlag
			fs.Var(&at, "at", "read the values as of `TIME`: RFC 3339, or -DURATION for a time ago")
			return func(ctx context.Context, s *session, args []string) error {
				if len(args) == 0 {
					return usageErrorf("missing NAME")
				}
				names := make([]string, len(args))
				for i, arg := range args {
					name, err := counterName(arg)
					if err != nil {
						return err
					}
					names[i] = name
				}
				var opts []client.ReadOption
				if at.set {
					opts = append(opts, client.At(at.value))
				}
				counters, err := getCounters(ctx, s.api, names, opts)
				if err != nil {
					return err
				}
				table := s.out.newCounterTable(true)
				for _, c := range counters {
					if err := table.add(counterProto(c)); err != nil {
						return err
					}
				}
				return table.flush()
			}
		},
	}
}

// getCounters reads one counter with Get, several with one BatchGet so that
// they share a read time.
func getCounters(ctx context.Context, api *client.Client, names []string, opts []client.ReadOption) ([]*client.Counter, error) {
	if len(names) == 1 {
		c, err := api.Get(ctx, names[0], opts...)
		if err != nil {
			return nil, err
		}
		return []*client.Counter{c}, nil
	}
	return api.BatchGet(ctx, names, opts...)
}
