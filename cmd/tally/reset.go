package main

import (
	"context"
	"flag"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func resetCommand() *command {
	return &command{
		name:    "reset",
		args:    "NAME [--key K | --no-key]",
		summary: "set a counter back to 0",
		details: `Sets the counter's value back to 0 and prints the commit time. Fails with
NOT_FOUND if the counter does not exist.

Like inc, the reset carries a fresh idempotency key and is retried with it,
up to --attempts times within --timeout, so that a retry cannot wipe
increments made after its first attempt applied; if it still fails in a way
that may have applied it, the key is printed for running it again with
--key KEY.

With --key the reset applies at most once per counter and key within the
server's retention window, also across runs; a repeat prints the original
commit time followed by "(duplicate)". With --no-key it is sent once,
without a key.`,
		setup: func(fs *flag.FlagSet) action {
			keys := addKeyFlags(fs, "reset")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				w, err := keys.writer(ctx, s, "reset")
				if err != nil {
					return err
				}
				defer w.close()
				res, err := w.api.Reset(ctx, name, w.opt)
				if err != nil {
					return w.failed(err, res)
				}
				resp := &tallyv1.ResetCounterResponse{CommitTime: timestampProto(res.CommitTime), Duplicate: res.Duplicate}
				return s.out.result(resp, commitLine(resp.GetCommitTime(), resp.GetDuplicate()))
			}
		},
	}
}
