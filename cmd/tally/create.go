package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/tally-dev/tally/client"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func createCommand() *command {
	return &command{
		name:    "create",
		args:    "NAME [--shards N] [--adaptive]",
		summary: "create a counter at 0 with N shards",
		details: `Creates the counter with value 0. Only needed to choose the shard count up
front: inc creates counters on first use with the server's default count.
Without --shards (or with --shards 0) the server's default is used. With
--adaptive the server grows the shard count while increments contend and
shrinks it when the counter cools down, keeping the value. Fails with
ALREADY_EXISTS if the counter exists.`,
		setup: func(fs *flag.FlagSet) action {
			var shards int32Flag
			fs.Var(&shards, "shards", "number of shards `N`, 1 to 1000 (default: the server's default)")
			adaptive := fs.Bool("adaptive", false, "let the server adapt the shard count to the counter's load")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				id, err := counterID(args[0])
				if err != nil {
					return err
				}
				c, err := s.api.Create(ctx, id, client.CounterConfig{ShardCount: int(shards.value), AdaptiveShards: *adaptive})
				if err != nil {
					return err
				}
				return s.out.result(counterProto(c), fmt.Sprintf("created %s with %s", c.Name, shardCount(counterProto(c))))
			}
		},
	}
}

// shardCount describes a counter's shards, and whether the server adapts them.
func shardCount(c *tallyv1.Counter) string {
	n := fmt.Sprintf("%d shards", c.GetShardCount())
	if c.GetShardCount() == 1 {
		n = "1 shard"
	}
	if c.GetAdaptiveShards() {
		n += ", adaptive"
	}
	return n
}
