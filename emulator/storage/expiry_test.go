package storage

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/cockroachdb/pebble/v2"

	"github.com/tally-dev/tally/emulator/resource"
)

// expiryOfN makes field n the expiry time of every document in collection "c" (at any depth).
func expiryOfN(config string) *Expiry {
	return &Expiry{Config: config, Of: func(path []string, fields map[string]*pb.Value) (int64, bool) {
		n, ok := fields["n"].GetValueType().(*pb.Value_IntegerValue)
		if !ok || path[len(path)-2] != "c" {
			return 0, false
		}
		return n.IntegerValue, true
	}}
}

// expiring renders Expiring's entries as "path@at".
func expiring(t testing.TB, s *Store, db resource.Database, until int64, after *ExpiringDoc) []string {
	t.Helper()
	var out []string
	for d, err := range s.Expiring(db, until, after) {
		if err != nil {
			t.Fatalf("Expiring: %v", err)
		}
		out = append(out, strings.Join(d.Path, "/")+"@"+strconv.FormatInt(d.At, 10))
	}
	return out
}

func TestExpiryIndexFollowsWrites(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			opts := Options{InMemory: m.inMemory, Expiry: expiryOfN("n")}
			if !m.inMemory {
				opts.Dir = t.TempDir()
			}
			s := openWith(t, opts)
			w := newWriter(t, s)
			w.commit(set(10, "c", "a"), set(20, "c", "b"), set(-5, "c", "neg"), set(15, "other", "x"), set(12, "p", "q", "c", "nested"))
			check := func(until int64, want ...string) {
				t.Helper()
				if got := expiring(t, s, testDB, until, nil); !slices.Equal(got, want) {
					t.Fatalf("Expiring(%d) = %v, want %v", until, got, want)
				}
			}
			check(-6)
			check(-5, "c/neg@-5")
			check(11, "c/neg@-5", "c/a@10")
			check(math.MaxInt64, "c/neg@-5", "c/a@10", "p/q/c/nested@12", "c/b@20")

			w.commit(set(30, "c", "a"))                  // moved later
			w.commit(del("c", "b"), set(20, "c", "neg")) // deleted; moved
			w.commit(set(12, "p", "q", "c", "nested"))   // rewritten, same expiry
			check(math.MaxInt64, "p/q/c/nested@12", "c/neg@20", "c/a@30")

			after := ExpiringDoc{Path: []string{"p", "q", "c", "nested"}, At: 12}
			if got := expiring(t, s, testDB, math.MaxInt64, &after); !slices.Equal(got, []string{"c/neg@20", "c/a@30"}) {
				t.Fatalf("Expiring after %v = %v", after, got)
			}
			other := resource.Database{Project: "proj", Database: "other"}
			if got := expiring(t, s, other, math.MaxInt64, nil); len(got) != 0 {
				t.Fatalf("another database's index holds %v", got)
			}
			if err := s.DropDatabase(testDB); err != nil {
				t.Fatal(err)
			}
			check(math.MaxInt64)
		})
	}
}

// TestExpiryIndexIsRebuiltForANewConfig: a store opened with another expiry definition, or
// none, rebuilds or removes its index at Open.
func TestExpiryIndexIsRebuiltForANewConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reopen := func(e *Expiry) *Store {
		t.Helper()
		return openWith(t, Options{Dir: dir, Expiry: e})
	}
	s := reopen(nil)
	w := newWriter(t, s)
	w.commit(set(10, "c", "a"), set(20, "c", "b"), del("c", "gone"))
	w.commit(del("c", "b"))
	closeChecked(t, s)

	s = reopen(expiryOfN("n"))
	if got := expiring(t, s, testDB, math.MaxInt64, nil); !slices.Equal(got, []string{"c/a@10"}) {
		t.Fatalf("after building: %v", got)
	}
	if s.ExpiryConfig() != "n" {
		t.Fatalf("ExpiryConfig = %q", s.ExpiryConfig())
	}
	closeChecked(t, s)

	doubled := &Expiry{Config: "2n", Of: func(path []string, fields map[string]*pb.Value) (int64, bool) {
		at, ok := expiryOfN("").Of(path, fields)
		return 2 * at, ok
	}}
	s = reopen(doubled)
	if got := expiring(t, s, testDB, math.MaxInt64, nil); !slices.Equal(got, []string{"c/a@20"}) {
		t.Fatalf("after a config change: %v", got)
	}
	closeChecked(t, s)

	s = reopen(nil)
	if n := countKeys(t, s, []byte{expiryPrefix}); n != 0 {
		t.Fatalf("%d index keys left in a store opened without an expiry index", n)
	}
	if got := expiring(t, s, testDB, math.MaxInt64, nil); len(got) != 0 {
		t.Fatalf("Expiring without an index = %v", got)
	}
}

// TestKilledRebuildLeavesNoStrayIndex: a rebuild killed before it wrote its marker leaves index
// keys; a store then opened without an expiry definition must remove them, as it removes a
// finished index.
func TestKilledRebuildLeavesNoStrayIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openWith(t, Options{Dir: dir, Expiry: expiryOfN("n")})
	newWriter(t, s).commit(set(10, "c", "a"), set(20, "c", "b"))
	closeChecked(t, s)
	// What a kill between the rebuild's last batch and its marker leaves: keys, no marker.
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{discardLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(expiryConfigKey, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openWith(t, Options{Dir: dir})
	if n := countKeys(t, s, []byte{expiryPrefix}); n != 0 {
		t.Fatalf("%d index keys of a killed rebuild left in a store opened without an expiry index", n)
	}
}

// TestExpiryIndexRebuildSpansBatches: a rebuild larger than one of its write batches indexes
// every document.
func TestExpiryIndexRebuildSpansBatches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openWith(t, Options{Dir: dir})
	w := newWriter(t, s)
	const docs = 20_000 // ~2 MB of index keys, two rebuild batches at least
	for i := 0; i < docs; i += 1000 {
		var changes []change
		for j := i; j < i+1000; j++ {
			changes = append(changes, set(int64(j), "c", strings.Repeat("x", 40)+strconv.Itoa(j)))
		}
		w.commit(changes...)
	}
	closeChecked(t, s)
	s = openWith(t, Options{Dir: dir, Expiry: expiryOfN("n")})
	if n := countKeys(t, s, []byte{expiryPrefix}); n != docs {
		t.Fatalf("%d index keys after the rebuild, want %d", n, docs)
	}
}
