package main

import (
	"context"
	"flag"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func getCommand() *command {
	return &command{
		name:    "get",
		args:    "NAME...",
		summary: "show counters' values, shard counts and create/update times",
		details: `Shows each named counter. Several names are read together at one
consistent time; if any of them does not exist, nothing is shown and the
command fails with NOT_FOUND.`,
		setup: func(fs *flag.FlagSet) action {
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
				counters, err := getCounters(ctx, s.client, names)
				if err != nil {
					return err
				}
				table := s.out.newCounterTable(true)
				for _, c := range counters {
					if err := table.add(c); err != nil {
						return err
					}
				}
				return table.flush()
			}
		},
	}
}

// getCounters reads one counter with GetCounter, several with one
// BatchGetCounters so that they share a read time.
func getCounters(ctx context.Context, client tallyv1.CounterServiceClient, names []string) ([]*tallyv1.Counter, error) {
	if len(names) == 1 {
		c, err := client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: names[0]})
		if err != nil {
			return nil, err
		}
		return []*tallyv1.Counter{c}, nil
	}
	resp, err := client.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: names})
	if err != nil {
		return nil, err
	}
	return resp.GetCounters(), nil
}
