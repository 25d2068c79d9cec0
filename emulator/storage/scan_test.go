package storage

import (
	"fmt"
	"slices"
	"testing"
)

// populate writes a small tree and returns the commit times of its three batches:
//
//	c/a (live) with subcollections c/a/s/1, c/a/t/2 and c/a/c/x
//	c/b deleted at t3, with live c/b/s/1
//	c/c only a descendant: c/c/s/1/c/y (c/c and c/c/s/1 never existed)
//	c/d updated at t2, c/e created at t3, c/f live until t3 without descendants
//	d/z in another collection
func populate(t *testing.T, s *Store) (t1, t2, t3 int64) {
	w := newWriter(t, s)
	t1 = w.commit(
		set(1, "c", "a"), set(1, "c", "a", "s", "1"), set(1, "c", "a", "t", "2"), set(1, "c", "a", "c", "x"),
		set(1, "c", "b"), set(1, "c", "b", "s", "1"),
		set(1, "c", "c", "s", "1", "c", "y"),
		set(1, "c", "d"), set(1, "c", "f"),
		set(1, "d", "z"),
	)
	t2 = w.commit(set(2, "c", "d"))
	t3 = w.commit(del("c", "b"), set(3, "c", "e"), del("c", "f"))
	return t1, t2, t3
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		t1, t2, t3 := populate(t, s)
		tests := []struct {
			name   string
			at     int64
			parent []string
			coll   string
			all    bool
			after  []string
			want   []string
		}{
			{"latest children", t3, nil, "c", false, nil, []string{"c/a=1", "c/d=2", "c/e=3"}},
			{"children at t1", t1, nil, "c", false, nil, []string{"c/a=1", "c/b=1", "c/d=1", "c/f=1"}},
			{"children at t2 from history", t2, nil, "c", false, nil, []string{"c/a=1", "c/b=1", "c/d=2", "c/f=1"}},
			{"before anything", t1 - 1, nil, "c", false, nil, nil},
			{"after a", t3, nil, "c", false, []string{"c", "a"}, []string{"c/d=2", "c/e=3"}},
			{"after a missing document", t3, nil, "c", false, []string{"c", "c"}, []string{"c/d=2", "c/e=3"}},
			{"after the last", t3, nil, "c", false, []string{"c", "e"}, nil},
			{"after a path before the collection", t3, nil, "c", false, []string{"b", "z"}, []string{"c/a=1", "c/d=2", "c/e=3"}},
			{"subcollection", t3, []string{"c", "a"}, "s", false, nil, []string{"c/a/s/1=1"}},
			{"subcollection of a deleted document", t3, []string{"c", "b"}, "s", false, nil, []string{"c/b/s/1=1"}},
			{"unknown collection", t3, nil, "zz", false, nil, nil},
			{"group c", t3, nil, "c", true, nil, []string{"c/a=1", "c/a/c/x=1", "c/c/s/1/c/y=1", "c/d=2", "c/e=3"}},
			{"group c after c/a", t3, nil, "c", true, []string{"c", "a"}, []string{"c/a/c/x=1", "c/c/s/1/c/y=1", "c/d=2", "c/e=3"}},
			{"group c after c/a/c/x", t3, nil, "c", true, []string{"c", "a", "c", "x"}, []string{"c/c/s/1/c/y=1", "c/d=2", "c/e=3"}},
			{"group s", t3, nil, "s", true, nil, []string{"c/a/s/1=1", "c/b/s/1=1"}},
			{"group s under c/a", t3, []string{"c", "a"}, "s", true, nil, []string{"c/a/s/1=1"}},
			{"group c under c/a", t3, []string{"c", "a"}, "c", true, nil, []string{"c/a/c/x=1"}},
			{"group at t1", t1, nil, "c", true, nil, []string{"c/a=1", "c/a/c/x=1", "c/b=1", "c/c/s/1/c/y=1", "c/d=1", "c/f=1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := collect(t, s.Snapshot(testDB, tt.at).Documents(tt.parent, tt.coll, tt.all, tt.after))
				if !slices.Equal(got, tt.want) {
					t.Fatalf("Documents = %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func TestDocumentsShowMissing(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		t1, _, t3 := populate(t, s)
		tests := []struct {
			name  string
			at    int64
			after []string
			want  []string
		}{
			{"latest", t3, nil, []string{"c/a=1", "c/b=deleted", "c/c=deleted", "c/d=2", "c/e=3"}},
			{"at t1", t1, nil, []string{"c/a=1", "c/b=1", "c/c=deleted", "c/d=1", "c/f=1"}},
			{"after b", t3, []string{"c", "b"}, []string{"c/c=deleted", "c/d=2", "c/e=3"}},
			{"after c", t3, []string{"c", "c"}, []string{"c/d=2", "c/e=3"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := collect(t, s.Snapshot(testDB, tt.at).DocumentsShowMissing(nil, "c", tt.after))
				if !slices.Equal(got, tt.want) {
					t.Fatalf("DocumentsShowMissing = %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func TestCollectionIDs(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		t1, _, t3 := populate(t, s)
		w := newWriter(t, s)
		w.commit(set(1, "e", "gone"))
		t5 := w.commit(del("e", "gone"))
		tests := []struct {
			name   string
			at     int64
			parent []string
			after  string
			want   []string
		}{
			{"root", t5, nil, "", []string{"c", "d"}},
			{"root while e existed", t5 - 1, nil, "", []string{"c", "d", "e"}},
			{"root after c", t5, nil, "c", []string{"d"}},
			{"root after a prefix of c", t5, nil, "b", []string{"c", "d"}},
			{"under c/a", t3, []string{"c", "a"}, "", []string{"c", "s", "t"}},
			{"under c/a after s", t3, []string{"c", "a"}, "s", []string{"t"}},
			{"under deleted c/b", t3, []string{"c", "b"}, "", []string{"s"}},
			{"under missing c/c", t3, []string{"c", "c"}, "", []string{"s"}},
			{"under c/c/s/1", t3, []string{"c", "c", "s", "1"}, "", []string{"c"}},
			{"under leaf", t3, []string{"c", "d"}, "", nil},
			{"before anything", t1 - 1, nil, "", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := collectIDs(t, s.Snapshot(testDB, tt.at).CollectionIDs(tt.parent, tt.after))
				if !slices.Equal(got, tt.want) {
					t.Fatalf("CollectionIDs = %q, want %q", got, tt.want)
				}
			})
		}
	})
}

// A direct-children scan must seek over each document's subtree rather than walk it.
func TestChildrenScanSkipsSubtrees(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		const children, descendants = 5, 400
		var changes []change
		for i := range children {
			id := fmt.Sprintf("doc%d", i)
			changes = append(changes, set(int64(i), "c", id))
			for j := range descendants / children {
				changes = append(changes, set(0, "c", id, "sub", fmt.Sprintf("%03d", j)))
			}
		}
		at := w.commit(changes...)
		tests := []struct {
			name     string
			scan     func() int
			maxSteps int64
		}{
			{"Documents", func() int { return len(collect(t, s.Snapshot(testDB, at).Documents(nil, "c", false, nil))) }, 3 * children},
			{"ShowMissing", func() int { return len(collect(t, s.Snapshot(testDB, at).DocumentsShowMissing(nil, "c", nil))) }, 3 * children},
			{"CollectionIDs", func() int { return len(collectIDs(t, s.Snapshot(testDB, at).CollectionIDs(nil, ""))) }, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := s.scanSteps.Load()
				if n := tt.scan(); n == 0 {
					t.Fatal("scan returned nothing")
				}
				if steps := s.scanSteps.Load() - before; steps > tt.maxSteps {
					t.Fatalf("scan took %d iterator steps over %d descendants, want at most %d", steps, descendants, tt.maxSteps)
				}
			})
		}
	})
}

func TestScanStopsEarly(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		_, _, t3 := populate(t, s)
		sn := s.Snapshot(testDB, t3)
		for v, err := range sn.Documents(nil, "c", false, nil) {
			if err != nil || describe(v) != "c/a=1" {
				t.Fatalf("first document = %s, %v", describe(v), err)
			}
			break
		}
		for v, err := range sn.DocumentsShowMissing(nil, "c", []string{"c", "a"}) {
			if err != nil || describe(v) != "c/b=deleted" {
				t.Fatalf("first document = %s, %v", describe(v), err)
			}
			break
		}
		for id, err := range sn.CollectionIDs(nil, "") {
			if err != nil || id != "c" {
				t.Fatalf("first collection = %q, %v", id, err)
			}
			break
		}
		// Every scan released its iterators, or Close would report leaked iterators.
		if err := s.Close(); err != nil {
			t.Fatalf("Close after abandoned scans: %v", err)
		}
	})
}
