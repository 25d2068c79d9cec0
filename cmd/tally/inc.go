package main

import (
	"context"
	"flag"
	"strconv"
)

func incCommand() *command {
	return &command{
		name:    "inc",
		args:    "NAME [DELTA] [--key K]",
		summary: "add DELTA (default 1) to a counter, creating it on first use",
		details: `Adds DELTA, a signed 64-bit integer, to the counter; a negative DELTA
subtracts (tally inc page-views -5). Prints the commit time.

With --key the increment applies at most once per counter and key within the
server's retention window. A repeat changes nothing and prints the original
commit time followed by "(duplicate)". Reusing a key with another DELTA fails
with FAILED_PRECONDITION.`,
		setup: func(fs *flag.FlagSet) action {
			key := fs.String("key", "", "idempotency key `K`: apply at most once per counter and key")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME", "DELTA"); err != nil {
					return err
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				delta := int64(1)
				if len(args) == 2 {
					if delta, err = strconv.ParseInt(args[1], 10, 64); err != nil {
						return usageErrorf("DELTA %q must be an integer from -9223372036854775808 to 9223372036854775807", args[1])
					}
				}
				res, err := s.api.Increment(ctx, name, delta, writeOptions(*key))
				if err != nil {
					return err
				}
				resp := writeProto(res)
				return s.out.result(resp, commitLine(resp.GetCommitTime(), resp.GetDuplicate()))
			}
		},
	}
}
