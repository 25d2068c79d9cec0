package main

import (
	"context"
	"flag"
	"strconv"
)

func incCommand() *command {
	return &command{
		name:    "inc",
		args:    "NAME [DELTA] [--key K | --no-key]",
		summary: "add DELTA (default 1) to a counter, creating it on first use",
		details: `Adds DELTA, a signed 64-bit integer, to the counter; a negative DELTA
subtracts (tally inc page-views -5). Prints the commit time.

The increment counts exactly once. It carries a fresh idempotency key, 26
random characters of A-Z and 2-7, and a failure that may be retried
(UNAVAILABLE, ABORTED, RESOURCE_EXHAUSTED, a broken connection) is sent again
with the same key, with backoff, up to --attempts times within --timeout:
the server applies a key at most once. If it still fails in a way that may
have applied it, the key is printed: running the command again with
--key KEY finishes it without counting it twice.

With --key the increment applies at most once per counter and key within the
server's retention window, also across runs. A repeat changes nothing and
prints the original commit time followed by "(duplicate)"; so does a retry of
this run whose first attempt was applied but not answered. Reusing a key with
another DELTA fails with FAILED_PRECONDITION.

With --no-key the increment is sent once, without a key: at-least-once, as
Firestore's own increment. A lost answer is an error, and running the command
again may count it twice.`,
		setup: func(fs *flag.FlagSet) action {
			keys := addKeyFlags(fs, "apply")
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
				w, err := keys.writer(ctx, s, "increment")
				if err != nil {
					return err
				}
				defer w.close()
				res, err := w.api.Increment(ctx, name, delta, w.opt)
				if err != nil {
					return w.failed(err, res)
				}
				resp := writeProto(res)
				return s.out.result(resp, commitLine(resp.GetCommitTime(), resp.GetDuplicate()))
			}
		},
	}
}
