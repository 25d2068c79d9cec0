package main

import (
	"context"
	"flag"

	"google.golang.org/protobuf/types/known/emptypb"
)

func deleteCommand() *command {
	return &command{
		name:    "delete",
		args:    "NAME",
		summary: "delete a counter",
		details: `Deletes the counter and its shards. A later inc of the same name starts a
new counter at 0. Fails with NOT_FOUND if the counter does not exist.`,
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 1, "NAME"); err != nil {
					return err
				}
				name, err := counterName(args[0])
				if err != nil {
					return err
				}
				if err := s.api.Delete(ctx, name); err != nil {
					return err
				}
				return s.out.result(&emptypb.Empty{}, "deleted "+name)
			}
		},
	}
}
