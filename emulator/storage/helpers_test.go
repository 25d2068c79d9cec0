package storage

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/cockroachdb/pebble/v2"
	"github.com/tally-dev/tally/emulator/resource"
)

var testDB = resource.Database{Project: "proj", Database: "(default)"}

// modes runs read/write tests against both storage modes with one table.
var modes = []struct {
	name     string
	inMemory bool
}{{"disk", false}, {"memory", true}}

func openStore(t testing.TB, inMemory bool) *Store {
	t.Helper()
	opts := Options{InMemory: inMemory}
	if !inMemory {
		opts.Dir = t.TempDir()
	}
	return openWith(t, opts)
}

// openWith opens a store that is closed when the test ends, and checked before: whatever a test
// writes through the store's API must leave its keyspaces consistent.
func openWith(t testing.TB, opts Options) *Store {
	t.Helper()
	s := openUnchecked(t, opts)
	t.Cleanup(func() { checkConsistent(t, s) })
	return s
}

// openUnchecked is openWith without the final check, for a test that corrupts the store.
func openUnchecked(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// closeChecked checks s and closes it, for a test that reopens its directory.
func closeChecked(t testing.TB, s *Store) {
	t.Helper()
	checkConsistent(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkConsistent fails the test if Check finds a violation. A store the test closed is left
// alone: a reopened one is checked in its place.
func checkConsistent(t testing.TB, s *Store) {
	t.Helper()
	if _, ok := t.(*testing.B); ok {
		return // a benchmark's store is large, and its consistency is the tests' business
	}
	if err := s.Check(); err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("the store is inconsistent:\n%v", err)
	}
}

func eachMode(t *testing.T, f func(t *testing.T, s *Store)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, openStore(t, m.inMemory)) })
	}
}

// change is one document write in a test batch: a set of field n, or a delete.
type change struct {
	path   []string
	n      int64
	delete bool
}

func set(n int64, path ...string) change { return change{path: path, n: n} }
func del(path ...string) change          { return change{path: path, delete: true} }

func fieldsN(n int64) map[string]*pb.Value {
	return map[string]*pb.Value{"n": {ValueType: &pb.Value_IntegerValue{IntegerValue: n}}}
}

// writer commits batches in order and remembers each document's latest version, as the
// transaction layer does.
type writer struct {
	t      testing.TB
	s      *Store
	db     resource.Database
	now    int64
	latest map[string]*Version
}

func newWriter(t testing.TB, s *Store) *writer {
	return &writer{t: t, s: s, db: testDB, now: s.LastCommitTime(), latest: map[string]*Version{}}
}

// batch builds the next batch (commit time now+10) without submitting it.
func (w *writer) batch(changes ...change) *Batch {
	w.now += 10
	b := &Batch{CommitTime: w.now}
	for _, c := range changes {
		key := w.db.DocumentName(c.path)
		prev := w.latest[key]
		next := Version{UpdateTime: w.now, Deleted: c.delete}
		if !c.delete {
			next.Fields = fieldsN(c.n)
			next.CreateTime = w.now
			if prev != nil && !prev.Deleted {
				next.CreateTime = prev.CreateTime
			}
		}
		b.Writes = append(b.Writes, Write{DB: w.db, Path: c.path, Prev: prev, Next: next})
		nv := next
		w.latest[key] = &nv
	}
	return b
}

// commit submits a batch and waits for it; it returns the commit time.
func (w *writer) commit(changes ...change) int64 {
	w.t.Helper()
	t := w.s.Submit(w.batch(changes...))
	<-t.Done()
	if err := t.Err(); err != nil {
		w.t.Fatalf("commit at %d: %v", w.now, err)
	}
	return w.now
}

// describe renders a version as "path=n", "path=missing" or "path=deleted", for comparisons.
func describe(v *Version) string {
	switch {
	case v == nil:
		return "<nil>"
	case v.Deleted:
		return strings.Join(v.Path, "/") + "=deleted"
	default:
		return fmt.Sprintf("%s=%d", strings.Join(v.Path, "/"), v.Fields["n"].GetIntegerValue())
	}
}

func collect(t testing.TB, seq iter.Seq2[*Version, error]) []string {
	t.Helper()
	var out []string
	for v, err := range seq {
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, describe(v))
	}
	return out
}

func collectIDs(t testing.TB, seq iter.Seq2[string, error]) []string {
	t.Helper()
	var out []string
	for id, err := range seq {
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, id)
	}
	return out
}

// countKeys counts stored keys starting with prefix.
func countKeys(t testing.TB, s *Store, prefix []byte) int {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: subtreeEnd(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if bytes.HasPrefix(it.Key(), prefix) {
			n++
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
