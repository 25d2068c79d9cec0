package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/tally-dev/tally/client"
)

func resizeCommand() *command {
	return &command{
		name:    "resize",
		args:    "NAME [--shards N] [--adaptive on|off]",
		summary: "change a counter's shard count or adaptivity, keeping its value",
		details: `Changes the number of shards the counter's increments are spread over. More
shards absorb more concurrent increments and make reads slightly more
expensive. --shards 0 means the server's default. The value is unchanged.
--adaptive on lets the server adapt the shard count to the counter's load
from then on; off keeps the count where it is. Give --shards, --adaptive or
both (one change).`,
		setup: func(fs *flag.FlagSet) action {
			var shards int32Flag
			fs.Var(&shards, "shards", "new number of shards `N`, 1 to 1000")
			var adaptive onOffFlag
			fs.Var(&adaptive, "adaptive", "let the server adapt the shard count to the load, or stop it (`on|off`)")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				if !shards.set && !adaptive.set {
					return usageErrorf("missing --shards N or --adaptive on|off")
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				var u client.CounterUpdate
				if shards.set {
					n := int(shards.value)
					u.ShardCount = &n
				}
				if adaptive.set {
					u.AdaptiveShards = &adaptive.value
				}
				c, err := s.api.Update(ctx, name, u)
				if err != nil {
					return err
				}
				pc := counterProto(c)
				return s.out.result(pc, fmt.Sprintf("%s now has %s", c.Name, shardCount(pc)))
			}
		},
	}
}
