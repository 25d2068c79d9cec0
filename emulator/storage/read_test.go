package storage

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tally-dev/tally/emulator/resource"
)

func TestReadsAsOfTime(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		t1 := w.commit(set(1, "c", "a"), set(1, "c", "b"))
		t2 := w.commit(set(2, "c", "a"))
		t3 := w.commit(del("c", "a"), set(3, "c", "b"))
		t4 := w.commit(set(4, "c", "a")) // re-created after the delete
		t5 := w.commit(del("c", "b"))

		tests := []struct {
			doc  string
			at   int64
			want string
		}{
			{"a", t1 - 1, "<nil>"},
			{"a", t1, "c/a=1"},
			{"a", t2 - 1, "c/a=1"},
			{"a", t2, "c/a=2"},
			{"a", t3, "<nil>"},
			{"a", t4 - 1, "<nil>"},
			{"a", t4, "c/a=4"},
			{"a", t5 + 100, "c/a=4"},
			{"b", t1, "c/b=1"},
			{"b", t3 - 1, "c/b=1"},
			{"b", t3, "c/b=3"},
			{"b", t5, "<nil>"},
			{"never", t5, "<nil>"},
		}
		for _, tt := range tests {
			v, err := s.Get(testDB, []string{"c", tt.doc}, tt.at)
			if err != nil {
				t.Fatalf("Get(%s, %d): %v", tt.doc, tt.at, err)
			}
			if got := describe(v); got != tt.want {
				t.Errorf("Get(%s, %d) = %s, want %s", tt.doc, tt.at, got, tt.want)
			}
			sv, err := s.Snapshot(testDB, tt.at).Get([]string{"c", tt.doc})
			if err != nil || describe(sv) != tt.want {
				t.Errorf("Snapshot(%d).Get(%s) = %s, %v; want %s", tt.at, tt.doc, describe(sv), err, tt.want)
			}
		}

		a, err := s.Get(testDB, []string{"c", "a"}, t4)
		if err != nil || a.CreateTime != t4 || a.UpdateTime != t4 {
			t.Errorf("re-created document times = %+v, %v; want create = update = %d", a, err, t4)
		}
		a, err = s.Get(testDB, []string{"c", "a"}, t2)
		if err != nil || a.CreateTime != t1 || a.UpdateTime != t2 {
			t.Errorf("updated document times = %+v, %v; want create %d update %d", a, err, t1, t2)
		}

		latest := []struct {
			doc  string
			want string
			at   int64
		}{
			{"a", "c/a=4", t4},
			{"b", "c/b=deleted", t5},
			{"never", "<nil>", 0},
		}
		for _, tt := range latest {
			v, err := s.Latest(testDB, []string{"c", tt.doc})
			if err != nil || describe(v) != tt.want {
				t.Errorf("Latest(%s) = %s, %v; want %s", tt.doc, describe(v), err, tt.want)
			}
			if v != nil && v.UpdateTime != tt.at {
				t.Errorf("Latest(%s).UpdateTime = %d, want %d", tt.doc, v.UpdateTime, tt.at)
			}
		}
		// LatestAll answers in the caller's order, whatever the key order, repeats included.
		paths := [][]string{{"c", "never"}, {"c", "b"}, {"c", "a"}, {"c", "b"}}
		want := []string{"<nil>", "c/b=deleted", "c/a=4", "c/b=deleted"}
		vs, err := s.LatestAll(testDB, paths)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vs {
			if describe(v) != want[i] {
				t.Errorf("LatestAll[%d] (%v) = %s, want %s", i, paths[i], describe(v), want[i])
			}
		}
	})
}

// TestLatestAllReadsMemtableAndTables: documents in flushed tables (found through their bloom
// filters), in the memtable, nested under each other and missing are all resolved.
func TestLatestAllReadsMemtableAndTables(t *testing.T) {
	t.Parallel()
	s := openStore(t, false)
	w := newWriter(t, s)
	var paths [][]string
	for i := range 200 {
		path := []string{"c", fmt.Sprintf("d%03d", i)}
		w.commit(set(int64(i), path...))
		paths = append(paths, path)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	w.commit(set(1000, "c", "d007"), set(1001, "c", "d007", "sub", "x"), del("c", "d008"))
	paths = append(paths, []string{"c", "d007", "sub", "x"}, []string{"c", "d007", "sub", "y"}, []string{"c", "d200"}, []string{"d", "d001"})
	vs, err := s.LatestAll(testDB, paths)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		want, err := s.Latest(testDB, p)
		if err != nil {
			t.Fatal(err)
		}
		if describe(vs[i]) != describe(want) {
			t.Errorf("LatestAll(%v) = %s, Latest = %s", p, describe(vs[i]), describe(want))
		}
	}
	for _, check := range []struct {
		i    int
		want string
	}{{7, "c/d007=1000"}, {8, "c/d008=deleted"}, {9, "c/d009=9"}, {200, "c/d007/sub/x=1001"}, {201, "<nil>"}, {202, "<nil>"}, {203, "<nil>"}} {
		if got := describe(vs[check.i]); got != check.want {
			t.Errorf("LatestAll(%v) = %s, want %s", paths[check.i], got, check.want)
		}
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		other := resource.Database{Project: "proj", Database: "other"}
		w.commit(set(1, "c", "a"))
		w.db = other
		at := w.commit(set(2, "c", "a"))
		for db, want := range map[resource.Database]string{testDB: "c/a=1", other: "c/a=2"} {
			v, err := s.Get(db, []string{"c", "a"}, at)
			if err != nil || describe(v) != want {
				t.Errorf("Get(%v) = %s, %v; want %s", db, describe(v), err, want)
			}
		}
		if err := s.DropDatabase(other); err != nil {
			t.Fatal(err)
		}
		for _, readAt := range []int64{at - 10, at} {
			if v, err := s.Get(testDB, []string{"c", "a"}, readAt); err != nil || describe(v) != "c/a=1" {
				t.Errorf("after drop: Get(kept database, %d) = %s, %v; want c/a=1", readAt, describe(v), err)
			}
			if v, err := s.Get(other, []string{"c", "a"}, readAt); err != nil || v != nil {
				t.Errorf("after drop: Get(dropped database, %d) = %s, %v; want <nil>", readAt, describe(v), err)
			}
		}
		if n := countKeys(t, s, append([]byte{historyPrefix}, namespace(other)...)); n != 0 {
			t.Errorf("%d history keys of the dropped database remain", n)
		}
	})
}

func TestSnapshotReadTimeIsCappedAtDurableTime(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	w := newWriter(t, s)
	at := w.commit(set(1, "c", "a"))
	tests := []struct {
		ask, want int64
	}{{at - 5, at - 5}, {at, at}, {at + 1000, at}}
	for _, tt := range tests {
		if got := s.Snapshot(testDB, tt.ask).ReadTime(); got != tt.want {
			t.Errorf("Snapshot(%d).ReadTime() = %d, want %d", tt.ask, got, tt.want)
		}
	}
}

func TestReadsRejectInvalidArguments(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	sn := s.Snapshot(testDB, 0)
	bad := resource.Database{Project: "p"}
	tests := []struct {
		name string
		run  func() error
	}{
		{"Get odd path", func() error { _, err := s.Get(testDB, []string{"c"}, 0); return err }},
		{"Latest empty path", func() error { _, err := s.Latest(testDB, nil); return err }},
		{"Latest bad database", func() error { _, err := s.Latest(bad, []string{"c", "a"}); return err }},
		{"LatestAll odd path", func() error { _, err := s.LatestAll(testDB, [][]string{{"c", "a"}, {"c"}}); return err }},
		{"LatestAll bad database", func() error { _, err := s.LatestAll(bad, [][]string{{"c", "a"}}); return err }},
		{"Documents odd parent", func() error { return firstErr(sn.Documents([]string{"c"}, "x", false, nil)) }},
		{"Documents empty collection", func() error { return firstErr(sn.Documents(nil, "", false, nil)) }},
		{"Documents odd after", func() error { return firstErr(sn.Documents(nil, "c", false, []string{"c"})) }},
		{"ShowMissing bad database", func() error { return firstErr(s.Snapshot(bad, 0).DocumentsShowMissing(nil, "c", nil)) }},
		{"CollectionIDs odd parent", func() error {
			for _, err := range sn.CollectionIDs([]string{"c"}, "") {
				return err
			}
			return nil
		}},
		{"DropDatabase bad database", func() error { return s.DropDatabase(bad) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
		})
	}
}

func firstErr(seq func(func(*Version, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}
