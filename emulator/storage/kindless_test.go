package storage

import (
	"slices"
	"testing"
)

// TestDocumentsKindless scans every document under a parent, whatever its collection, as the
// kindless queries of recursive deletes ask: an empty collection id with allDescendants.
func TestDocumentsKindless(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		t1, _, t3 := populate(t, s)
		tests := []struct {
			name   string
			at     int64
			parent []string
			after  []string
			want   []string
		}{
			{"everything", t3, nil, nil, []string{"c/a=1", "c/a/c/x=1", "c/a/s/1=1", "c/a/t/2=1", "c/b/s/1=1", "c/c/s/1/c/y=1", "c/d=2", "c/e=3", "d/z=1"}},
			{"everything at t1", t1, nil, nil, []string{"c/a=1", "c/a/c/x=1", "c/a/s/1=1", "c/a/t/2=1", "c/b=1", "c/b/s/1=1", "c/c/s/1/c/y=1", "c/d=1", "c/f=1", "d/z=1"}},
			{"below a document", t3, []string{"c", "a"}, nil, []string{"c/a/c/x=1", "c/a/s/1=1", "c/a/t/2=1"}},
			{"after a descendant", t3, nil, []string{"c", "a", "s", "1"}, []string{"c/a/t/2=1", "c/b/s/1=1", "c/c/s/1/c/y=1", "c/d=2", "c/e=3", "d/z=1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := collect(t, s.Snapshot(testDB, tt.at).Documents(tt.parent, "", true, tt.after))
				if !slices.Equal(got, tt.want) {
					t.Fatalf("Documents = %q, want %q", got, tt.want)
				}
			})
		}
		// Without allDescendants an empty collection id is still refused.
		var failed bool
		for _, err := range s.Snapshot(testDB, t3).Documents(nil, "", false, nil) {
			failed = err != nil
		}
		if !failed {
			t.Fatal(`Documents(nil, "", false) did not fail`)
		}
	})
}
