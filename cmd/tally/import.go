package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// defaultKeyPrefix starts the idempotency keys of imports.
const defaultKeyPrefix = "tally-import:"

// maxImportKeys bounds the idempotency keys one counter's import may use
// (see importer.counter). Each key past the first is spent by a run that
// found the counter someone else's, so a few are plenty.
const maxImportKeys = 64

func importCommand() *command {
	return &command{
		name:    "import",
		args:    "[-i FILE] [--merge] [--key-prefix K]",
		summary: "create the counters of an export file with their values",
		details: `Reads a file written by 'tally export' (checked whole first: a damaged or
incomplete file applies nothing) and, for each counter, creates it with the
exported shard count and adds the exported value with one Increment.

Each value is applied with an idempotency key derived from the export's id
and the counter's ID, so an interrupted import is finished by running it
again: counters already imported are skipped, and no value is applied twice.
This holds within the server's idempotency key retention (tallyd's
--key-retention, 24h by default); after it, a re-run refuses the counters
again (or with --merge adds their values again).

A counter that already exists fails the import, unless it is one an earlier
run of this import created, or it is at 0 with the exported shard count
(importing into it gives the exported state). With --merge the exported
value is added to an existing counter instead, and its shard count is left
as it is. Counters are imported in file order; the import stops at the first
one that fails, with a note saying how far it got.

A counter deleted after its import is imported again by the next run.
--key-prefix starts the keys with another prefix, which makes the run a new
import of the same file: with --merge it adds the values once more.

A server with a tokens file needs a token with read, write and admin
permissions (an import reads, increments and creates counters).`,
		setup: func(fs *flag.FlagSet) action {
			input := fs.String("i", "-", "read the export from `FILE` instead of stdin (\"-\")")
			merge := fs.Bool("merge", false, "add the values to counters that exist already")
			keyPrefix := fs.String("key-prefix", defaultKeyPrefix, "start the idempotency keys with `K`")
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 0); err != nil {
					return err
				}
				ex, err := readExportFrom(*input, s.stdin)
				if err != nil {
					return err
				}
				im := importer{client: s.client, header: ex.header, keyPrefix: *keyPrefix, merge: *merge}
				var sum importSummary
				for i, c := range ex.counters {
					outcome, err := im.counter(ctx, c)
					if err != nil {
						fmt.Fprintf(s.stderr, "tally: import stopped at counter %q (line %d), %d of %d counters done; run the same import again to continue\n",
							c.ID, c.line, i, len(ex.counters))
						return withPrefix(fmt.Sprintf("counter %q", c.ID), err)
					}
					sum.add(outcome)
				}
				sum.ExportID = ex.header.ExportID
				return sum.print(s.out)
			}
		},
	}
}

func readExportFrom(path string, stdin io.Reader) (*export, error) {
	if path == "-" {
		return readExport(stdin, "stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-i: %w", err)
	}
	defer f.Close()
	return readExport(f, path)
}

// importOutcome is what importing one counter did.
type importOutcome int

const (
	outcomeCreated importOutcome = iota // the counter now holds its exported value
	outcomeAlready                      // an earlier run of this import did it
	outcomeMerged                       // the value was added to an existing counter
)

type importSummary struct {
	ExportID string `json:"export_id"`
	Counters int    `json:"counters"`
	Created  int    `json:"created"`
	Already  int    `json:"already_imported"`
	Merged   int    `json:"merged"`
}

func (s *importSummary) add(o importOutcome) {
	s.Counters++
	switch o {
	case outcomeCreated:
		s.Created++
	case outcomeAlready:
		s.Already++
	case outcomeMerged:
		s.Merged++
	}
}

func (s *importSummary) print(p *printer) error {
	if p.json {
		line, err := compactJSON(s)
		if err != nil {
			return err
		}
		_, err = p.w.Write(line)
		return err
	}
	_, err := fmt.Fprintf(p.w, "imported %d counters of export %s: %d created, %d already imported, %d merged\n",
		s.Counters, s.ExportID, s.Created, s.Already, s.Merged)
	return err
}

// importer imports the counters of one export.
type importer struct {
	client    tallyv1.CounterServiceClient
	header    exportHeader
	keyPrefix string
	merge     bool
}

// counter imports one counter. Its value goes in with one Increment under
// an idempotency key derived from the export and the counter, so that no
// run applies it twice however an earlier run ended:
//
//   - The counter does not exist: create it, then add the value.
//   - It exists at 0 with the exported shard count (an earlier run stopped
//     between the two, or someone made it so): add the value; if an earlier
//     run added it already, the server answers that the increment is a
//     duplicate and applies nothing.
//   - It exists otherwise: with --merge, add the value likewise. Without,
//     find out whether an earlier run added it (imported), and if not refuse
//     the counter.
//
// imported asks with an Increment of 0 under the key, which the server
// refuses with FAILED_PRECONDITION if the key was used for the value, and
// otherwise applies, changing nothing but spending the key on 0. The value
// of that counter then goes under the next key, should a later run add it
// (after the counter was deleted, or with --merge): the counter's keys are
// used in order, each one for the value or for 0, and the value is under the
// first key not spent on 0.
//
// A value of 0 needs no increment: the counter is at its exported state
// once it exists at 0 with its shard count.
func (im importer) counter(ctx context.Context, c exportedCounter) (importOutcome, error) {
	name := namePrefix + c.ID
	value := int64(*c.Value)
	_, err := im.client.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: c.ID, Counter: &tallyv1.Counter{ShardCount: c.ShardCount}})
	switch status.Code(err) {
	case codes.OK:
		if value == 0 {
			return outcomeCreated, nil
		}
		_, err := im.apply(ctx, c, true)
		return outcomeCreated, err
	case codes.AlreadyExists:
	default:
		return 0, err
	}

	existing, err := im.client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: name})
	if err != nil {
		return 0, err
	}
	empty := existing.GetValue() == 0 && existing.GetShardCount() == c.ShardCount
	switch {
	case value == 0 && empty:
		return outcomeAlready, nil
	case value == 0 && im.merge:
		return outcomeMerged, nil // nothing to add
	case value == 0:
		return 0, im.exists(existing, value)
	case !empty && !im.merge:
		done, err := im.imported(ctx, c)
		if err != nil {
			return 0, err
		}
		if !done {
			return 0, im.exists(existing, value)
		}
		return outcomeAlready, nil
	}
	applied, err := im.apply(ctx, c, false)
	switch {
	case err != nil:
		return 0, err
	case !applied:
		return outcomeAlready, nil
	case empty:
		return outcomeCreated, nil
	}
	return outcomeMerged, nil
}

// apply adds the counter's value under the first of its keys not spent on
// 0, and reports whether it did so now (rather than in an earlier run).
// fresh says that this run created the counter: a key used for the value
// already went with a counter deleted since, and the next key is tried.
func (im importer) apply(ctx context.Context, c exportedCounter, fresh bool) (bool, error) {
	for i := range maxImportKeys {
		resp, err := im.increment(ctx, c, int64(*c.Value), i)
		switch {
		case keyUsed(err):
			continue // spent on 0
		case err != nil:
			return false, err
		case resp.GetDuplicate() && fresh:
			continue
		}
		return !resp.GetDuplicate(), nil
	}
	return false, errKeysExhausted
}

// imported reports whether an earlier run added the counter's value, asking
// with increments of 0 (see counter).
func (im importer) imported(ctx context.Context, c exportedCounter) (bool, error) {
	for i := range maxImportKeys {
		resp, err := im.increment(ctx, c, 0, i)
		switch {
		case keyUsed(err):
			return true, nil // used for the value
		case err != nil:
			return false, err
		case resp.GetDuplicate():
			continue // spent on 0 by an earlier run
		}
		return false, nil // not used before: spent on 0 now
	}
	return false, errKeysExhausted
}

func (im importer) increment(ctx context.Context, c exportedCounter, delta int64, key int) (*tallyv1.IncrementResponse, error) {
	return im.client.Increment(ctx, &tallyv1.IncrementRequest{
		Name:           namePrefix + c.ID,
		Delta:          delta,
		IdempotencyKey: importKey(im.keyPrefix, im.header, c.ID, key),
	})
}

// keyUsed reports whether an Increment failed because its idempotency key
// was used for another request: for an import's key, another delta.
func keyUsed(err error) bool { return status.Code(err) == codes.FailedPrecondition }

var errKeysExhausted = fmt.Errorf("earlier runs of this import used all %d of the counter's idempotency keys; "+
	"import with another --key-prefix", maxImportKeys)

func (im importer) exists(c *tallyv1.Counter, value int64) error {
	return fmt.Errorf("exists already (value %d, %s) and this export was not imported into it; "+
		"add --merge to add the exported value %d to it, or delete it first", c.GetValue(), shardCount(c), value)
}

// withPrefix puts prefix before err's message. A status keeps its code and
// details, so that it is reported like the server's own error.
func withPrefix(prefix string, err error) error {
	var unreachable *unreachableError
	if errors.As(err, &unreachable) {
		return err
	}
	// Only a status itself: a status wrapped in more text already has it.
	if gs, ok := err.(interface{ GRPCStatus() *status.Status }); ok && gs.GRPCStatus() != nil {
		p := gs.GRPCStatus().Proto()
		p.Message = prefix + ": " + p.Message
		return status.FromProto(p).Err()
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
