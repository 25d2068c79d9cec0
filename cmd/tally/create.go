package main

import (
	"context"
	"flag"
	"fmt"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func createCommand() *command {
	return &command{
		name:    "create",
		args:    "NAME [--shards N]",
		summary: "create a counter at 0 with N shards",
		details: `Creates the counter with value 0. Only needed to choose the shard count up
front: inc creates counters on first use with the server's default count.
Without --shards (or with --shards 0) the server's default is used. Fails with
ALREADY_EXISTS if the counter exists.`,
		setup: func(fs *flag.FlagSet) action {
			var shards int32Flag
			fs.Var(&shards, "shards", "number of shards `N`, 1 to 1000 (default: the server's default)")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				id, err := counterID(args[0])
				if err != nil {
					return err
				}
				req := &tallyv1.CreateCounterRequest{CounterId: id}
				if shards.set {
					req.Counter = &tallyv1.Counter{ShardCount: shards.value}
				}
				c, err := s.client.CreateCounter(ctx, req)
				if err != nil {
					return err
				}
				return s.out.result(c, fmt.Sprintf("created %s with %s", c.GetName(), shardCount(c)))
			}
		},
	}
}

func shardCount(c *tallyv1.Counter) string {
	if c.GetShardCount() == 1 {
		return "1 shard"
	}
	return fmt.Sprintf("%d shards", c.GetShardCount())
}
