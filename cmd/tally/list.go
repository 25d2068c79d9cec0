package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/tally-dev/tally/client"
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
				opts := client.ListOptions{PageSize: int(pageSize.value), Values: *values}
				if len(args) == 1 {
					// Counter IDs contain no "/", so a full-name prefix can
					// only mean the ID part.
					opts.Prefix = strings.TrimPrefix(args[0], namePrefix)
				}
				table := s.out.newCounterTable(*values)
				next, err := listPages(ctx, s.api, opts, *token, *all, table)
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
func listPages(ctx context.Context, api *client.Client, opts client.ListOptions, token string, all bool, table *counterTable) (string, error) {
	for {
		page, err := api.ListPage(ctx, opts, token)
		if err != nil {
			return "", err
		}
		for _, c := range page.Counters {
			if err := table.add(counterProto(c)); err != nil {
				return "", err
			}
		}
		next := page.NextPageToken
		if next == "" || !all {
			return next, nil
		}
		if next == token {
			return "", errRepeatedPageToken
		}
		token = next
	}
}
