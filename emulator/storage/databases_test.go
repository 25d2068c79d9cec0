package storage

import (
	"errors"
	"slices"
	"testing"

	"github.com/tally-dev/tally/emulator/resource"
)

func collectDatabases(t *testing.T, s *Store) []resource.Database {
	t.Helper()
	var out []resource.Database
	for db, err := range s.Databases() {
		if err != nil {
			t.Fatalf("Databases: %v", err)
		}
		out = append(out, db)
	}
	return out
}

func TestDatabases(t *testing.T) {
	t.Parallel()
	a := resource.Database{Project: "p", Database: "(default)"}
	b := resource.Database{Project: "p", Database: "other"}
	nul := resource.Database{Project: "p\x00q", Database: "d"}
	later := resource.Database{Project: "q", Database: "(default)"}
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store)
		want  []resource.Database
	}{
		{"empty store", func(*testing.T, *Store) {}, nil},
		{
			"several databases in key order",
			func(t *testing.T, s *Store) {
				for _, db := range []resource.Database{later, b, nul, a} {
					w := newWriter(t, s)
					w.db = db
					w.commit(set(1, "c", "x"), set(1, "c", "x", "s", "y"))
				}
			},
			[]resource.Database{a, b, nul, later},
		},
		{
			"a database holding only a tombstone",
			func(t *testing.T, s *Store) {
				w := newWriter(t, s)
				w.db = b
				w.commit(set(1, "c", "x"))
				w.commit(del("c", "x"))
			},
			[]resource.Database{b},
		},
		{
			"a dropped database",
			func(t *testing.T, s *Store) {
				for _, db := range []resource.Database{a, b} {
					w := newWriter(t, s)
					w.db = db
					w.commit(set(1, "c", "x"))
				}
				if err := s.DropDatabase(a); err != nil {
					t.Fatal(err)
				}
			},
			[]resource.Database{b},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachMode(t, func(t *testing.T, s *Store) {
				tt.setup(t, s)
				if got := collectDatabases(t, s); !slices.Equal(got, tt.want) {
					t.Fatalf("Databases = %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestDatabasesSeeksPastDocuments(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	dbs := []resource.Database{{Project: "p", Database: "big"}, {Project: "p", Database: "small"}}
	for _, db := range dbs {
		w := newWriter(t, s)
		w.db = db
		var changes []change
		for i := range 200 {
			changes = append(changes, set(int64(i), "c", string(rune('a'+i%26))+string(rune('a'+i/26))))
		}
		w.commit(changes...)
	}
	before := s.scanSteps.Load()
	if got := collectDatabases(t, s); !slices.Equal(got, dbs) {
		t.Fatalf("Databases = %v, want %v", got, dbs)
	}
	// One positioning per database plus the one that finds nothing more.
	if steps := s.scanSteps.Load() - before; steps > int64(len(dbs)+1) {
		t.Fatalf("Databases took %d iterator steps over %d databases; it walks documents instead of seeking", steps, len(dbs))
	}
}

func TestDatabasesStopsEarly(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	for _, name := range []string{"a", "b", "c"} {
		w := newWriter(t, s)
		w.db = resource.Database{Project: "p", Database: name}
		w.commit(set(1, "c", "x"))
	}
	var seen []string
	for db, err := range s.Databases() {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, db.Database)
		if len(seen) == 2 {
			break
		}
	}
	if want := []string{"a", "b"}; !slices.Equal(seen, want) {
		t.Fatalf("saw %v, want %v", seen, want)
	}
}

// Each step reads afresh, so a consumer may write between databases and a database created
// ahead of the cursor is still listed.
func TestDatabasesSeesWritesAheadOfTheCursor(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	write := func(name string) {
		w := newWriter(t, s)
		w.db = resource.Database{Project: "p", Database: name}
		w.commit(set(1, "c", "x"))
	}
	write("a")
	write("c")
	var seen []string
	for db, err := range s.Databases() {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, db.Database)
		if db.Database == "a" {
			write("b")
		}
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(seen, want) {
		t.Fatalf("saw %v, want %v", seen, want)
	}
}

func TestDatabasesOnAClosedStore(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range s.Databases() {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Databases on a closed store: %v, want ErrClosed", err)
		}
		return
	}
	t.Fatal("Databases on a closed store yielded nothing, want ErrClosed")
}
