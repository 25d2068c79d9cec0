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

// maxImportKeys bounds the idempotency keys one counter's import may use on
// one incarnation of the counter (see importer.counter). Each key past the
// first is spent by a run that found the counter someone else's, so a few
// are plenty.
const maxImportKeys = 64

func importCommand() *command {
	return &command{
		name:    "import",
		args:    "[-i FILE] [--merge] [--key-prefix K]",
		summary: "create the counters of an export file with their values",
		details: `Reads a file written by 'tally export' (checked whole first: a damaged or
incomplete file applies nothing) and, for each counter, creates it with the
exported shard count and adds the exported value with one Increment.

Each value is applied with an idempotency key derived from the export's id,
the counter's ID and the destination counter's create_time, so an
interrupted import is finished by running it again, and runs of one import
that overlap apply each value once: counters already imported are skipped,
and no value is applied twice. This holds within the server's idempotency
key retention (tallyd's --key-retention, 24h by default); after it, a re-run
refuses the counters again (or with --merge adds their values again).

A counter that already exists fails the import, unless a run of this import
imported into it (created it or merged into it), or it is at 0 with the
exported shard count (importing into it gives the exported state). With
--merge the exported value is added to an existing counter instead, and its
shard count is left as it is. Counters are imported in file order; the
import stops at the first one that fails, with a note saying how far it got.

A counter deleted after its import is imported again by the next run: a
counter created again is a new one, with a new create_time and new keys.
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
// an idempotency key, so that no run applies it twice however earlier runs
// ended and whatever runs of the same import overlap with this one:
//
//   - The counter does not exist: create it, then add the value.
//   - It exists at 0 with the exported shard count (an earlier or concurrent
//     run created it and has not added the value yet, or someone made it so):
//     add the value; if another run added it already, the server answers
//     that the increment is a duplicate and applies nothing.
//   - It exists otherwise: with --merge, add the value likewise. Without,
//     find out whether a run of this import added it (imported), and if not
//     refuse the counter.
//
// # Keys
//
// The keys belong to one incarnation of the destination counter, a life
// from its creation to its deletion, told apart by its create_time: the
// CreateCounter response's, or GetCounter's when the counter exists (the
// same time, that of the commit that created it). DeleteCounter keeps the
// counter's idempotency records, so keys of the counter ID alone would make
// a re-created counter look imported when only a deleted one was. Every run
// against one incarnation derives the same keys, and a new incarnation
// gets new ones. Keys are numbered, key n being importKey(..., ID/create
// time, n); each is used once, in order, either for the value or for 0:
//
//   - imported asks with an Increment of 0 under each key in turn. The server
//     refuses it with FAILED_PRECONDITION if the key was used for the value
//     (imported); reports a duplicate if an earlier probe spent it on 0 (ask
//     the next key); otherwise it applies the 0, which changes nothing and
//     spends the key on 0, and the answer is "not imported".
//   - apply adds the value under each key in turn: FAILED_PRECONDITION
//     means the key was spent on 0, so it tries the next; a duplicate means
//     a run added the value under this key (done, applied before); success
//     means this run added it.
//
// So the value is under the first key not spent on 0, if anywhere: an apply
// stops at the first key not spent on 0, whoever runs it, and a key spent
// on 0 stays spent (within the key retention), so all applies to one
// incarnation meet at the same key and the server applies the value there
// once. A probe either finds that key used for the value, or spends it on 0
// first, in which case the value goes under a later key and later probes
// look there. A duplicate is always this incarnation's value, added by
// this run before or by another one: no run moves past it, whoever created
// the counter.
//
// Why a chain rather than one key for the value and one for --merge: a run
// without --merge must recognise a counter that a --merge run imported
// into, and asking about a key that was not used spends it on 0, so a merge
// after such a refusal needs a key not asked about yet. Each refusing run
// spends one key (maxImportKeys).
//
// # Interleavings
//
// Each RPC is atomic on the server; between any two of them another run may
// act, or this run may stop:
//
//   - Stopped or overtaken between CreateCounter and Increment: the counter
//     is at 0 with its shard count, and the next run (or the overlapping
//     one) applies under the same keys as this run would; whichever of the
//     two Increments comes second is a duplicate. A run that created the
//     counter reports it created even when the other run's Increment won.
//   - Between GetCounter and Increment another run added the value: this
//     run's apply is a duplicate, or its probe finds the key used.
//   - A probe spends a key on 0 while another run is about to apply under
//     it (the counter was not empty when the prober read it: someone else
//     incremented it): the applier moves on to the next key, the prober
//     refused the counter, which it did see holding someone else's value.
//   - A --merge run and a run without it overlap on someone else's counter:
//     the merge applies once under the first key not spent on 0; the other
//     refuses or, probing after the merge, reports it imported.
//   - Stopped after a probe spent a key on 0: nothing changed but the key.
//
// A reset keeps the incarnation (its value was imported: a re-run reports
// it so and adds nothing); a resize too. Outside this reasoning: a counter
// that someone else deletes between this run's CreateCounter or GetCounter
// and its Increment, which the Increment re-creates (Increment creates
// counters on first use) with the server's default shard count, under the
// old incarnation's key: later runs take the new incarnation, value and
// all, for someone else's counter (and --merge adds the value to it again).
//
// A value of 0 needs no increment and no key: the counter is at its
// exported state once it exists at 0 with its shard count.
func (im importer) counter(ctx context.Context, c exportedCounter) (importOutcome, error) {
	value := int64(*c.Value)
	ctr, err := im.client.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: c.ID, Counter: &tallyv1.Counter{ShardCount: c.ShardCount}})
	created := err == nil
	switch status.Code(err) {
	case codes.OK:
	case codes.AlreadyExists:
		if ctr, err = im.client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: namePrefix + c.ID}); err != nil {
			return 0, err
		}
	default:
		return 0, err
	}
	empty := created || ctr.GetValue() == 0 && ctr.GetShardCount() == c.ShardCount
	switch {
	case value == 0 && created:
		return outcomeCreated, nil
	case value == 0 && empty:
		return outcomeAlready, nil
	case value == 0 && im.merge:
		return outcomeMerged, nil // nothing to add
	case value == 0:
		return 0, im.exists(ctr, value)
	}
	inc, err := newIncarnation(c, ctr)
	if err != nil {
		return 0, err
	}
	if !empty && !im.merge {
		done, err := im.imported(ctx, inc)
		switch {
		case err != nil:
			return 0, err
		case !done:
			return 0, im.exists(ctr, value)
		}
		return outcomeAlready, nil
	}
	applied, err := im.apply(ctx, inc)
	switch {
	case err != nil:
		return 0, err
	case created:
		return outcomeCreated, nil
	case !applied:
		return outcomeAlready, nil
	case empty:
		return outcomeCreated, nil
	}
	return outcomeMerged, nil
}

// incarnation is one incarnation of a destination counter (see
// importer.counter): the counter of c as created at createTime.
type incarnation struct {
	c          exportedCounter
	createTime string // the counter's create_time, seconds.nanoseconds
}

// newIncarnation identifies the incarnation of c that ctr, the destination
// counter as CreateCounter or GetCounter returned it, is.
func newIncarnation(c exportedCounter, ctr *tallyv1.Counter) (incarnation, error) {
	ts := ctr.GetCreateTime()
	if ts.GetSeconds() == 0 && ts.GetNanos() == 0 {
		return incarnation{}, errors.New("the server returned the counter without its create_time, " +
			"from which the import's idempotency keys derive")
	}
	return incarnation{c: c, createTime: fmt.Sprintf("%d.%09d", ts.GetSeconds(), ts.GetNanos())}, nil
}

// key is the incarnation's idempotency key number n. A counter ID has no
// "/", so ID/create time tells every incarnation of every counter apart.
func (im importer) key(inc incarnation, n int) string {
	return importKey(im.keyPrefix, im.header, inc.c.ID+"/"+inc.createTime, n)
}

// apply adds the counter's value under the first of the incarnation's keys
// not spent on 0, and reports whether it did so now (rather than another
// run of this import, earlier or at the same time).
func (im importer) apply(ctx context.Context, inc incarnation) (bool, error) {
	for n := range maxImportKeys {
		resp, err := im.increment(ctx, inc, int64(*inc.c.Value), n)
		switch {
		case keyUsed(err):
			continue // spent on 0
		case err != nil:
			return false, err
		}
		return !resp.GetDuplicate(), nil
	}
	return false, errKeysExhausted
}

// imported reports whether a run of this import added the counter's value
// to the incarnation, asking with increments of 0 (see counter).
func (im importer) imported(ctx context.Context, inc incarnation) (bool, error) {
	for n := range maxImportKeys {
		resp, err := im.increment(ctx, inc, 0, n)
		switch {
		case keyUsed(err):
			return true, nil // used for the value
		case err != nil:
			return false, err
		case resp.GetDuplicate():
			continue // spent on 0 by an earlier probe
		}
		return false, nil // not used before: spent on 0 now
	}
	return false, errKeysExhausted
}

func (im importer) increment(ctx context.Context, inc incarnation, delta int64, n int) (*tallyv1.IncrementResponse, error) {
	return im.client.Increment(ctx, &tallyv1.IncrementRequest{
		Name:           namePrefix + inc.c.ID,
		Delta:          delta,
		IdempotencyKey: im.key(inc, n),
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
