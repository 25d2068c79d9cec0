package main

import (
	"context"
	"flag"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func resetCommand() *command {
	return &command{
		name:    "reset",
		args:    "NAME [--key K]",
		summary: "set a counter back to 0",
		details: `Sets the counter's value back to 0 and prints the commit time. With --key
the reset applies at most once per counter and key within the server's
retention window, so a retried reset cannot wipe increments made after the
first one; a repeat prints the original commit time followed by
"(duplicate)". Fails with NOT_FOUND if the counter does not exist.`,
		setup: func(fs *flag.FlagSet) action {
			key := fs.String("key", "", "idempotency key `K`: reset at most once per counter and key")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				res, err := s.api.Reset(ctx, name, writeOptions(*key))
				if err != nil {
					return err
				}
				resp := &tallyv1.ResetCounterResponse{CommitTime: timestampProto(res.CommitTime), Duplicate: res.Duplicate}
				return s.out.result(resp, commitLine(resp.GetCommitTime(), resp.GetDuplicate()))
			}
		},
	}
}
