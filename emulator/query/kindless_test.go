package query

import (
	"cmp"
	"slices"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

func fromKindless() []*pb.StructuredQuery_CollectionSelector {
	return []*pb.StructuredQuery_CollectionSelector{{AllDescendants: true}}
}

// TestKindless runs the queries that recursive deletes send: no collection id, all
// descendants, names only, ordered by name, in pages, below the root or a document.
func TestKindless(t *testing.T) {
	src := newSource(
		doc("a/1", F{"n": iv(1)}), doc("a/1/sub/x", nil), doc("a/1/sub/x/deep/y", nil), doc("a/2", nil),
		doc("ab/1", nil), doc("a\x00/1", nil), doc("b/1", nil), doc("b/1/a/z", nil), doc("ZZ/1", nil),
	)
	namesOnly := selectFields("__name__")
	byName := []*pb.StructuredQuery_Order{asc("__name__")}
	// The Node.js client bounds one collection's subtree with numeric ids, which sort before
	// every other id: coll/__id-9223372036854775808__ up to coll\x00/__id-9223372036854775808__.
	collectionBounds := func(coll string) *pb.StructuredQuery_Filter {
		const minID = "__id-9223372036854775808__"
		return and(where("__name__", opGTE, refv(coll+"/"+minID)), where("__name__", opLT, refv(coll+"\x00/"+minID)))
	}
	tests := []struct {
		name   string
		parent string
		sq     *pb.StructuredQuery
		want   []string
	}{
		{"every document below the root", "", &pb.StructuredQuery{From: fromKindless(), Select: namesOnly, OrderBy: byName},
			[]string{"ZZ/1", "a/1", "a/1/sub/x", "a/1/sub/x/deep/y", "a/2", "a\x00/1", "ab/1", "b/1", "b/1/a/z"}},
		{"below a document", "a/1", &pb.StructuredQuery{From: fromKindless()}, []string{"a/1/sub/x", "a/1/sub/x/deep/y"}},
		{"a page", "", &pb.StructuredQuery{From: fromKindless(), OrderBy: byName, Limit: limit(3)}, []string{"ZZ/1", "a/1", "a/1/sub/x"}},
		{"the next page", "", &pb.StructuredQuery{From: fromKindless(), OrderBy: byName, StartAt: startAfter(refv("a/1/sub/x")), Limit: limit(3)},
			[]string{"a/1/sub/x/deep/y", "a/2", "a\x00/1"}},
		{"one collection's subtree", "", &pb.StructuredQuery{From: fromKindless(), Select: namesOnly, Where: collectionBounds("a")},
			[]string{"a/1", "a/1/sub/x", "a/1/sub/x/deep/y", "a/2"}},
		{"a subcollection's subtree", "a/1", &pb.StructuredQuery{From: fromKindless(), Where: collectionBounds("a/1/sub")},
			[]string{"a/1/sub/x", "a/1/sub/x/deep/y"}},
		{"filtered by a field", "", &pb.StructuredQuery{From: fromKindless(), Where: where("n", opEQ, iv(1))}, []string{"a/1"}},
		{"descending", "a/1", &pb.StructuredQuery{From: fromKindless(), OrderBy: []*pb.StructuredQuery_Order{desc("__name__")}},
			[]string{"a/1/sub/x/deep/y", "a/1/sub/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range runQuery(t, tt.parent, tt.sq, src) {
				got = append(got, strings.Join(d.Path, "/"))
				if tt.sq.Select != nil && len(d.Fields) != 0 {
					t.Errorf("%s: fields %v, want none", got[len(got)-1], d.Fields)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNumericIDOrder checks that numeric ids sort before every other id and by value.
func TestNumericIDOrder(t *testing.T) {
	ordered := [][]string{
		{"c", "__id-9223372036854775808__"},
		{"c", "__id-1__"},
		{"c", "__id7__"},
		{"c", "__id42__"},
		{"c", "0"},
		{"c", "A"},
		{"c", "__idx__"},
		{"c", "a"},
		{"c\x00", "__id1__"},
	}
	for i := range ordered {
		for j := range ordered {
			if got, want := comparePaths(ordered[i], ordered[j]), cmp.Compare(i, j); got != want {
				t.Errorf("comparePaths(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if _, _, err := parseDocumentName(testDB.DocumentsRoot() + "/__id1__/x"); err == nil {
		t.Error("a numeric collection id was accepted")
	}
}
