package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// writeCheckFixture writes, through the API, a little of every kind of key Check looks at:
//
//	c/a  set n=5 at 10, n=6 at 20: a live version with one history entry; expires at 6
//	d/x  set at 10, deleted at 30: a tombstone with one history entry
//	c/b  set n=7 at 40: expires at 7
//
// With expiry, documents of collection c expire at their field n.
func writeCheckFixture(t *testing.T, s *Store) {
	t.Helper()
	w := newWriter(t, s)
	w.commit(set(5, "c", "a"), set(1, "d", "x"))
	w.commit(set(6, "c", "a"))
	w.commit(del("d", "x"))
	w.commit(set(7, "c", "b"))
}

func TestCheckPassesAHealthyStore(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"with an expiry index", Options{InMemory: true, Expiry: expiryOfN("n")}},
		{"without an expiry index", Options{InMemory: true}},
		{"on disk", Options{Dir: t.TempDir(), Expiry: expiryOfN("n")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openUnchecked(t, tt.opts)
			writeCheckFixture(t, s)
			if err := s.Check(); err != nil {
				t.Fatalf("after the writes: %v", err)
			}
			// Garbage collection and a dropped database leave the history and index consistent.
			if _, err := s.CollectGarbage(s.DurableTime()); err != nil {
				t.Fatal(err)
			}
			other := testDB
			other.Database = "other"
			w := newWriter(t, s)
			w.db = other
			w.commit(set(1, "c", "z"))
			w.commit(set(2, "c", "z"))
			if err := s.DropDatabase(other); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(); err != nil {
				t.Fatalf("after garbage collection and a dropped database: %v", err)
			}
		})
	}
}

// TestCheckFindsEachCorruption breaks one invariant of a consistent store with a direct pebble
// write and expects Check to report exactly that violation.
func TestCheckFindsEachCorruption(t *testing.T) {
	t.Parallel()
	ns := namespace(testDB)
	lkey := func(path ...string) []byte { return latestKey(ns, path) }
	hkey := func(commit int64, path ...string) []byte {
		return historyKey(historyPrefixOf(lkey(path...)), commit)
	}
	encode := func(t *testing.T, v Version, hasValidUntil bool, validUntil int64) []byte {
		t.Helper()
		b, err := encodeVersion(&v, hasValidUntil, validUntil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// c/a's history entry as the fixture writes it, and variations of it.
	caHistory := Version{CreateTime: 10, UpdateTime: 10, Fields: fieldsN(5)}

	tests := []struct {
		name      string
		noExpiry  bool                                   // the store keeps no expiry index
		corrupt   func(t *testing.T) (key, value []byte) // nil value: delete key
		violation string
	}{
		{
			name:      "history entry without its latest version",
			corrupt:   func(*testing.T) ([]byte, []byte) { return lkey("d", "x"), nil },
			violation: "history entry of projects/proj/databases/(default)/documents/d/x at 10: the document has no latest version",
		},
		{
			name: "history entry valid until another time than the next version's commit",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				return hkey(10, "c", "a"), encode(t, caHistory, true, 15)
			},
			violation: "valid until 15, but the next version was committed at 20",
		},
		{
			name: "history entry whose version has another commit time than its key",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				v := caHistory
				v.UpdateTime = 12
				return hkey(10, "c", "a"), encode(t, v, true, 20)
			},
			violation: "at 10: the version says it was committed at 12",
		},
		{
			name: "history entry without a validUntil time",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				return hkey(10, "c", "a"), encode(t, caHistory, false, 0)
			},
			violation: "at 10: lacks its validUntil time",
		},
		{
			name: "history entry with another create time than the live version after it",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				v := caHistory
				v.CreateTime = 5
				return hkey(10, "c", "a"), encode(t, v, true, 20)
			},
			violation: "created at 5, but the next version, of the same document, says 10",
		},
		{
			name: "latest version with a validUntil time",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				return lkey("c", "b"), encode(t, Version{CreateTime: 40, UpdateTime: 40, Fields: fieldsN(7)}, true, 50)
			},
			violation: "latest version of projects/proj/databases/(default)/documents/c/b: carries a validUntil time (50)",
		},
		{
			name: "version committed after the durable time",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				return lkey("d", "late"), encode(t, Version{CreateTime: 50, UpdateTime: 50, Fields: fieldsN(1)}, false, 0)
			},
			violation: "committed at 50, after the durable time 40",
		},
		{
			name: "live version created after its commit",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				return lkey("d", "y"), encode(t, Version{CreateTime: 30, UpdateTime: 20, Fields: fieldsN(1)}, false, 0)
			},
			violation: "created at 30, want in (0, commit time 20]",
		},
		{
			name:      "version with unknown flags",
			corrupt:   func(*testing.T) ([]byte, []byte) { return lkey("d", "y"), []byte{0x80, 20, 20} },
			violation: "d/y: version flags 0x80 include unknown bits",
		},
		{
			name: "version whose fields do not decode",
			corrupt: func(t *testing.T) ([]byte, []byte) {
				return lkey("d", "y"), append(encode(t, Version{CreateTime: 20, UpdateTime: 20}, false, 0), 0xFF)
			},
			violation: "d/y: fields do not decode",
		},
		{
			name:      "latest key of an odd number of segments",
			corrupt:   func(*testing.T) ([]byte, []byte) { return latestKey(ns, []string{"c"}), []byte{0} },
			violation: "3 segments, want a project, a database and collection, id pairs",
		},
		{
			name:      "expiry key without its document",
			corrupt:   func(*testing.T) ([]byte, []byte) { return expiryKey(ns, 9, []string{"c", "gone"}), []byte{} },
			violation: "expiry key of projects/proj/databases/(default)/documents/c/gone at 9: the document has no latest version",
		},
		{
			name:      "expiry key of a deleted document",
			corrupt:   func(*testing.T) ([]byte, []byte) { return expiryKey(ns, 9, []string{"d", "x"}), []byte{} },
			violation: "d/x at 9: the document's latest version is a tombstone",
		},
		{
			name:      "expiry key at another time than the document expires",
			corrupt:   func(*testing.T) ([]byte, []byte) { return expiryKey(ns, 8, []string{"c", "b"}), []byte{} },
			violation: "c/b at 8: the document expires at 7",
		},
		{
			name:      "live version that expires without its expiry key",
			corrupt:   func(*testing.T) ([]byte, []byte) { return expiryKey(ns, 7, []string{"c", "b"}), nil },
			violation: "c/b: expires at 7 but has no expiry key",
		},
		{
			name:      "expiry key in a store without an expiry index",
			noExpiry:  true,
			corrupt:   func(*testing.T) ([]byte, []byte) { return expiryKey(ns, 7, []string{"c", "b"}), []byte{} },
			violation: "the store keeps no expiry index",
		},
		{
			name:      "expiry marker of another definition",
			corrupt:   func(*testing.T) ([]byte, []byte) { return expiryConfigKey, []byte("other") },
			violation: `expiry marker: holds "other", but the index is kept for "n"`,
		},
		{
			name:      "missing format marker",
			corrupt:   func(*testing.T) ([]byte, []byte) { return formatKey, nil },
			violation: "format marker: missing",
		},
		{
			name:      "unknown metadata key",
			corrupt:   func(*testing.T) ([]byte, []byte) { return []byte("Mother"), []byte{1} },
			violation: `key "Mother": unknown metadata key`,
		},
		{
			name:      "key outside every keyspace",
			corrupt:   func(*testing.T) ([]byte, []byte) { return []byte("Zed"), []byte{1} },
			violation: `key "Zed": outside every keyspace`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{InMemory: true, Expiry: expiryOfN("n")}
			if tt.noExpiry {
				opts.Expiry = nil
			}
			s := openUnchecked(t, opts)
			writeCheckFixture(t, s)
			key, value := tt.corrupt(t)
			var err error
			if value == nil {
				err = s.db.Delete(key, pebble.Sync)
			} else {
				err = s.db.Set(key, value, pebble.Sync)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := violations(s.Check())
			if len(got) != 1 || !errors.Is(got[0], ErrCorrupt) || !strings.Contains(got[0].Error(), tt.violation) {
				t.Fatalf("Check found %d violations:\n%v\nwant one, wrapping ErrCorrupt, saying %q", len(got), errors.Join(got...), tt.violation)
			}
		})
	}
}

// violations splits what Check returned into its violations.
func violations(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

// TestCheckReportsEveryViolation: one pass reports all it finds, not just the first.
func TestCheckReportsEveryViolation(t *testing.T) {
	t.Parallel()
	s := openUnchecked(t, Options{InMemory: true, Expiry: expiryOfN("n")})
	writeCheckFixture(t, s)
	for _, key := range [][]byte{latestKey(namespace(testDB), []string{"d", "x"}), formatKey, expiryKey(namespace(testDB), 7, []string{"c", "b"})} {
		if err := s.db.Delete(key, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if got := violations(s.Check()); len(got) != 3 {
		t.Fatalf("Check found %d violations, want 3:\n%v", len(got), errors.Join(got...))
	}
}

func TestCheckOnAClosedStore(t *testing.T) {
	t.Parallel()
	s := openUnchecked(t, Options{InMemory: true})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Check after Close: %v, want ErrClosed", err)
	}
}
