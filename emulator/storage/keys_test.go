package storage

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
)

// nameOrder is Firestore's document-name order: segment by segment, bytewise, a proper prefix
// first.
func nameOrder(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// orderingPaths exercises NUL bytes, prefixes, multi-byte UTF-8 and depth.
var orderingPaths = [][]string{
	{"c", "a"}, {"c", "a", "d", "x"}, {"c", "a", "d", "x", "e", "y"}, {"c", "a", "\x00", "x"},
	{"c", "a\x00"}, {"c", "a\x00", "d", "x"}, {"c", "a\x00\x00"}, {"c", "a\x01"}, {"c", "ab"},
	{"c", "a b"}, {"c", "b"}, {"c", "é"}, {"c", "\uffff"}, {"c", "\U0010ffff"}, {"c\x00", "a"},
	{"c0", "a"}, {"ca", "a"}, {"d", "a"}, {"c", "a", "d", "x\x00"}, {"c", "a", "dd", "x"},
}

func TestKeyOrderMatchesNameOrder(t *testing.T) {
	ns := namespace(testDB)
	for _, a := range orderingPaths {
		for _, b := range orderingPaths {
			got := bytes.Compare(latestKey(ns, a), latestKey(ns, b))
			if want := nameOrder(a, b); got != want {
				t.Errorf("compare(%q, %q): keys give %d, name order %d", a, b, got, want)
			}
		}
	}
}

func isDescendant(doc, other []string) bool {
	return len(other) > len(doc) && slices.Equal(other[:len(doc)], doc)
}

func TestSubtreeBoundsHoldExactlyTheDescendants(t *testing.T) {
	ns := namespace(testDB)
	for _, doc := range orderingPaths {
		key := latestKey(ns, doc)
		end := subtreeEnd(key)
		for _, other := range orderingPaths {
			ok := latestKey(ns, other)
			inside := bytes.Compare(ok, key) > 0 && bytes.Compare(ok, end) < 0
			if inside != isDescendant(doc, other) {
				t.Errorf("%q within (key(%q), subtreeEnd) = %v, descendant = %v", other, doc, inside, isDescendant(doc, other))
			}
			if isDescendant(doc, other) && !bytes.HasPrefix(ok, key) {
				t.Errorf("key(%q) does not start with key(%q)", other, doc)
			}
		}
	}
}

func TestDocumentKeyImmediatelyPrecedesDescendants(t *testing.T) {
	ns := namespace(testDB)
	sorted := slices.Clone(orderingPaths)
	slices.SortFunc(sorted, func(a, b []string) int { return bytes.Compare(latestKey(ns, a), latestKey(ns, b)) })
	for i, doc := range sorted {
		descendants := 0
		for _, other := range sorted {
			if isDescendant(doc, other) {
				descendants++
			}
		}
		for j := i + 1; j <= i+descendants; j++ {
			if !isDescendant(doc, sorted[j]) {
				t.Errorf("%q sorts between %q and the end of its descendants", sorted[j], doc)
			}
		}
	}
}

func TestNamespacesDoNotInterleave(t *testing.T) {
	dbs := []struct{ project, database string }{{"p", "d"}, {"p", "d\x00"}, {"p", "dd"}, {"p\x00", "d"}, {"pd", ""}}
	for _, a := range dbs {
		for _, b := range dbs {
			if a == b {
				continue
			}
			na := appendSegment(appendSegment(nil, a.project), a.database)
			nb := appendSegment(appendSegment(nil, b.project), b.database)
			if bytes.HasPrefix(nb, na) {
				t.Errorf("namespace %q is a prefix of %q", a, b)
			}
		}
	}
}

func TestHistoryKeys(t *testing.T) {
	ns := namespace(testDB)
	doc := latestKey(ns, []string{"c", "a"})
	child := latestKey(ns, []string{"c", "a", "\x00", "x"})
	hp := historyPrefixOf(doc)
	childHP := historyPrefixOf(child)
	times := []int64{0, 1, 5, 1 << 40, 1<<62 + 3}
	var keys [][]byte
	for _, tm := range times {
		keys = append(keys, historyKey(hp, tm))
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) <= 0 {
			t.Errorf("history key at %d does not sort after the one at %d", times[i-1], times[i])
		}
	}
	end := historyEnd(hp)
	for i, k := range keys {
		if bytes.Compare(k, hp) < 0 || bytes.Compare(k, end) >= 0 {
			t.Errorf("history key at %d is outside [prefix, end)", times[i])
		}
	}
	for _, tm := range times {
		if k := historyKey(childHP, tm); bytes.Compare(k, end) < 0 {
			t.Errorf("descendant history key at %d sorts inside the parent's history range", tm)
		}
	}
}

func TestDecodePath(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []string
		wantErr bool
	}{
		{name: "empty", in: nil, want: nil},
		{name: "plain", in: appendPath(nil, []string{"c", "a"}), want: []string{"c", "a"}},
		{name: "nul bytes", in: appendPath(nil, []string{"\x00", "a\x00b\x00", "\x00\x00"}), want: []string{"\x00", "a\x00b\x00", "\x00\x00"}},
		{name: "unicode", in: appendPath(nil, []string{"é", "\U0010ffff"}), want: []string{"é", "\U0010ffff"}},
		{name: "unterminated", in: []byte("abc"), wantErr: true},
		{name: "dangling escape", in: []byte("abc\x00"), wantErr: true},
		{name: "bad escape", in: []byte("a\x00\x02"), wantErr: true},
		{name: "terminated then garbage", in: []byte("a\x00\x01b"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePath(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decodePath(%q) error = %v, want ErrCorrupt", tt.in, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("decodePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzDecodePath(f *testing.F) {
	f.Add([]byte("a\x00\x01b\x00\xff\x00\x01"))
	f.Add([]byte("\x00"))
	f.Add([]byte("\x00\xff\x00\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		path, err := decodePath(in)
		if err != nil {
			return
		}
		if again := appendPath(nil, path); !bytes.Equal(again, in) {
			t.Fatalf("re-encoding %q gives %q", in, again)
		}
	})
}
