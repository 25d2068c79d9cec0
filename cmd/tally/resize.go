package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func resizeCommand() *command {
	return &command{
		name:    "resize",
		args:    "NAME --shards N",
		summary: "change a counter's shard count, keeping its value",
		details: `Changes the number of shards the counter's increments are spread over. More
shards absorb more concurrent increments and make reads slightly more
expensive. --shards 0 means the server's default. The value is unchanged.`,
		setup: func(fs *flag.FlagSet) action {
			var shards int32Flag
			fs.Var(&shards, "shards", "new number of shards `N`, 1 to 1000 (required)")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				if !shards.set {
					return usageErrorf("missing --shards N")
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				c, err := s.client.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
					Counter:    &tallyv1.Counter{Name: name, ShardCount: shards.value},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
				})
				if err != nil {
					return err
				}
				return s.out.result(c, fmt.Sprintf("%s now has %s", c.GetName(), shardCount(c)))
			}
		},
	}
}
