package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// errRepeatedPageToken stops --all from looping forever on a server that
// hands back the token it was given.
var errRepeatedPageToken = errors.New("the server returned the same next_page_token twice; stopping")

func listCommand() *command {
	return &command{
		name:    "list",
		args:    "[PREFIX] [--values] [--page-size N] [--all] [--page-token T]",
		summary: "list counters whose ID starts with PREFIX",
		details: `Lists counters in ascending byte order of their IDs, one page at a time.
Without --values the shards are not read and no values are shown. When more
counters follow the page, a note on stderr gives the --page-token for the
next one; --all fetches every page instead.`,
		setup: func(fs *flag.FlagSet) action {
			values := fs.Bool("values", false, "read and show each counter's value (the FULL view)")
			all := fs.Bool("all", false, "follow page tokens until every counter is listed")
			token := fs.String("page-token", "", "continue a listing from the next page token `T` it printed")
			var pageSize int32Flag
			fs.Var(&pageSize, "page-size", "at most `N` counters per page (default: the server's, 50)")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 0, "PREFIX"); err != nil {
					return err
				}
				req := &tallyv1.ListCountersRequest{
					PageSize:  pageSize.value,
					PageToken: *token,
					View:      tallyv1.CounterView_COUNTER_VIEW_BASIC,
				}
				if len(args) == 1 {
					// Counter IDs contain no "/", so a full-name prefix can
					// only mean the ID part.
					req.Prefix = strings.TrimPrefix(args[0], namePrefix)
				}
				if *values {
					req.View = tallyv1.CounterView_COUNTER_VIEW_FULL
				}
				table := s.out.newCounterTable(*values)
				next, err := listPages(ctx, s.client, req, *all, table)
				if err != nil {
					// Show the rows of the pages that did arrive; the
					// listing's error matters more than a failed write.
					_ = table.flush()
					return err
				}
				if table.rows == 0 && !s.out.json {
					if _, err := fmt.Fprintln(s.out.w, "no counters"); err != nil {
						return err
					}
				}
				if next != "" {
					fmt.Fprintf(s.stderr, "tally: more counters follow; add --all, or --page-token %s for the next page\n", next)
				}
				return table.flush()
			}
		},
	}
}

// listPages adds the counters of one page, or with all of every page, to
// table and returns the token of the first page it did not fetch.
func listPages(ctx context.Context, client tallyv1.CounterServiceClient, req *tallyv1.ListCountersRequest, all bool, table *counterTable) (string, error) {
	for {
		resp, err := client.ListCounters(ctx, req)
		if err != nil {
			return "", err
		}
		for _, c := range resp.GetCounters() {
			if err := table.add(c); err != nil {
				return "", err
			}
		}
		next := resp.GetNextPageToken()
		if next == "" || !all {
			return next, nil
		}
		if next == req.GetPageToken() {
			return "", errRepeatedPageToken
		}
		req.PageToken = next
	}
}
