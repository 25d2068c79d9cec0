package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// exportPageSize keeps each ListCounters call, which reads the shards of
// every counter on its page, well within one --timeout.
const exportPageSize = 100

func exportCommand() *command {
	return &command{
		name:    "export",
		args:    "[--prefix P] [-o FILE]",
		summary: "write counters with their values and shard counts to a file",
		details: `Writes every counter whose ID starts with P (default: all) as JSON lines:
a header with the export's id and time, one line per counter with its id,
shard_count and value (a decimal string, exact for any int64), and an end line
with the count, so that a file cut short is recognised. 'tally import' reads
it, into the same server or another one: this is how counters move between
storage modes, e.g. from tallyd's embedded storage to Cloud Firestore.

Values are read one page of counters at a time, each page at its own time:
stop the writers first for an export that is one consistent snapshot.

With -o the file appears only once the export is complete. A server with a
tokens file needs a token with the read permission.`,
		setup: func(fs *flag.FlagSet) action {
			prefix := fs.String("prefix", "", "export only counters whose ID starts with `P`")
			output := fs.String("o", "-", "write to `FILE` instead of stdout (\"-\")")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 0); err != nil {
					return err
				}
				id, err := newExportID()
				if err != nil {
					return err
				}
				h := exportHeader{
					ExportID:   id,
					ExportTime: time.Now().UTC().Format(time.RFC3339Nano),
					Prefix:     strings.TrimPrefix(*prefix, namePrefix),
				}
				n, err := writeExportTo(*output, s.out.w, func(w io.Writer) (int, error) {
					return exportCounters(ctx, s.client, h, w)
				})
				if err != nil {
					return err
				}
				where := *output
				if where == "-" {
					where = "stdout"
				}
				fmt.Fprintf(s.stderr, "tally: exported %d counters to %s (export %s)\n", n, where, h.ExportID)
				return nil
			}
		},
	}
}

// exportCounters lists the counters of the export h with their values and
// writes them to w; it returns how many it wrote.
func exportCounters(ctx context.Context, client tallyv1.CounterServiceClient, h exportHeader, w io.Writer) (int, error) {
	ew, err := newExportWriter(w, h)
	if err != nil {
		return 0, err
	}
	req := &tallyv1.ListCountersRequest{PageSize: exportPageSize, Prefix: h.Prefix, View: tallyv1.CounterView_COUNTER_VIEW_FULL}
	for {
		resp, err := client.ListCounters(ctx, req)
		if err != nil {
			return 0, err
		}
		for _, c := range resp.GetCounters() {
			id, ok := strings.CutPrefix(c.GetName(), namePrefix)
			if !ok || id == "" {
				return 0, fmt.Errorf("the server listed a counter named %q, not %s{counter_id}", c.GetName(), namePrefix)
			}
			if err := ew.add(id, c.GetShardCount(), c.GetValue()); err != nil {
				return 0, err
			}
		}
		next := resp.GetNextPageToken()
		if next == "" {
			break
		}
		if next == req.GetPageToken() {
			return 0, errRepeatedPageToken
		}
		req.PageToken = next
	}
	return ew.count, ew.close()
}

// writeExportTo runs write on stdout for "-", else on a temporary file next
// to path that replaces path once write succeeded and the data is on disk:
// a failed export leaves no file, and an earlier one at path intact.
func writeExportTo(path string, stdout io.Writer, write func(io.Writer) (int, error)) (int, error) {
	if path == "-" {
		return write(stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("-o %s: %w", path, err)
	}
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return 0, err
	}
	return n, nil
}
