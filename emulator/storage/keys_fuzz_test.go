package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tally-dev/tally/emulator/resource"
)

// fuzzDoc reads "project/database/collection/id/..." as a document in a database, the segments
// Submit accepts (non-empty valid UTF-8, collection, id pairs); ok is false for anything else.
func fuzzDoc(s string) (db resource.Database, path []string, ok bool) {
	segs := strings.Split(s, "/")
	if len(segs) < 4 {
		return resource.Database{}, nil, false
	}
	db = resource.Database{Project: segs[0], Database: segs[1]}
	if validateDatabase(db) != nil || validateDocumentPath(segs[2:], "path") != nil {
		return resource.Database{}, nil, false
	}
	return db, segs[2:], true
}

// fullName is a document's segments with its database's in front, the order every key of the
// document follows.
func fullName(db resource.Database, path []string) []string {
	return append([]string{db.Project, db.Database}, path...)
}

// FuzzKeyOrder checks the key encoding on two documents: each key decodes to its document; L
// keys, and H keys of different documents, sort in document-name order; a document's subtree
// bound and history range hold exactly its descendants and its own history, newest first; X
// keys sort by expiry time, then name, and expiryUpperBound splits them at a time.
func FuzzKeyOrder(f *testing.F) {
	for _, pair := range [][2]string{
		{"p/d/c/a", "p/d/c/a/d/x"},
		{"p/d/c/a", "p/d/c/a\x00"},
		{"p/d/c/a/\x00/x", "p/d/c/a/d/x"},
		{"p/d/c/a\x00\x00", "p/d/c/a\x01"},
		{"p/d/c/é", "p/d/c/\U0010ffff"},
		{"p/d/c/a", "p/d\x00/c/a"},
		{"p/dd/c/a", "pd/d/c/a"},
		{"p/d/c/a b", "p/d/c/ab"},
	} {
		f.Add(pair[0], pair[1], int64(5), int64(1<<40))
	}
	f.Add("p/d/c/a", "p/d/c/b", int64(math.MaxInt64), int64(math.MinInt64))
	f.Add("p/d/c/a", "p/d/c/a", int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, a, b string, ta, tb int64) {
		dbA, pathA, okA := fuzzDoc(a)
		dbB, pathB, okB := fuzzDoc(b)
		if !okA || !okB {
			return
		}
		nsA, nsB := namespace(dbA), namespace(dbB)
		if dbA != dbB && (bytes.HasPrefix(nsA, nsB) || bytes.HasPrefix(nsB, nsA)) {
			t.Fatalf("namespaces of %+v and %+v overlap: %q, %q", dbA, dbB, nsA, nsB)
		}
		la, lb := latestKey(nsA, pathA), latestKey(nsB, pathB)
		for _, d := range []struct {
			key  []byte
			db   resource.Database
			path []string
		}{{la, dbA, pathA}, {lb, dbB, pathB}} {
			gotDB, gotPath, err := decodeDocKey(d.key[1:])
			if err != nil || gotDB != d.db || !slices.Equal(gotPath, d.path) {
				t.Fatalf("latest key %q decodes to %+v %q, %v; want %+v %q", d.key, gotDB, gotPath, err, d.db, d.path)
			}
		}
		nameA, nameB := fullName(dbA, pathA), fullName(dbB, pathB)
		order := nameOrder(nameA, nameB)
		if got := bytes.Compare(la, lb); got != order {
			t.Fatalf("latest keys of %q and %q compare %d, names %d", nameA, nameB, got, order)
		}
		inSubtree := bytes.Compare(lb, la) > 0 && bytes.Compare(lb, subtreeEnd(la)) < 0
		if descendant := dbA == dbB && isDescendant(pathA, pathB); inSubtree != descendant {
			t.Fatalf("%q within the subtree bounds of %q = %v, descendant = %v", nameB, nameA, inSubtree, descendant)
		}

		// History: commit times are never negative.
		ca, cb := max(ta, 0), max(tb, 0)
		hpA, hpB := historyPrefixOf(la), historyPrefixOf(lb)
		ha, hb := historyKey(hpA, ca), historyKey(hpB, cb)
		const suffix = len(historyMarker) + historyTimeBytes
		gotDB, gotPath, err := decodeDocKey(ha[1 : len(ha)-suffix])
		if err != nil || gotDB != dbA || !slices.Equal(gotPath, pathA) || int64(^binary.BigEndian.Uint64(ha[len(ha)-historyTimeBytes:])) != ca {
			t.Fatalf("history key %q does not decode to %q at %d: %+v %q, %v", ha, nameA, ca, gotDB, gotPath, err)
		}
		if !bytes.HasPrefix(ha, hpA) || bytes.Compare(ha, historyEnd(hpA)) >= 0 {
			t.Fatalf("history key of %q at %d is outside [prefix, historyEnd)", nameA, ca)
		}
		switch got := bytes.Compare(ha, hb); {
		case order != 0 && got != order:
			t.Fatalf("history keys of %q and %q compare %d, names %d", nameA, nameB, got, order)
		case order == 0 && got != cmp.Compare(cb, ca):
			t.Fatalf("history keys of %q at %d and %d compare %d: newest must come first", nameA, ca, cb, got)
		}
		inHistory := bytes.Compare(hb, hpA) >= 0 && bytes.Compare(hb, historyEnd(hpA)) < 0
		if inHistory != (order == 0) {
			t.Fatalf("history key of %q within the history range of %q = %v", nameB, nameA, inHistory)
		}

		// Expiry index: any time, negative ones included.
		xa, xb := expiryKey(nsA, ta, pathA), expiryKey(nsB, tb, pathB)
		if dbA == dbB {
			want := cmp.Compare(ta, tb)
			if want == 0 {
				want = nameOrder(pathA, pathB)
			}
			if got := bytes.Compare(xa, xb); got != want {
				t.Fatalf("expiry keys of %q at %d and %q at %d compare %d, want %d", nameA, ta, nameB, tb, got, want)
			}
			prefix := append([]byte{expiryPrefix}, nsA...)
			bound := expiryUpperBound(prefix, ta)
			for _, x := range []struct {
				key []byte
				at  int64
			}{{xa, ta}, {xb, tb}} {
				if below := bytes.Compare(x.key, bound) < 0; below != (x.at <= ta) || !bytes.HasPrefix(x.key, prefix) {
					t.Fatalf("expiry key at %d below the bound for %d = %v", x.at, ta, below)
				}
			}
		}
		project, n, err := decodeSegment(xa[1:])
		if err != nil || project != dbA.Project {
			t.Fatalf("expiry key %q: project %q, %v", xa, project, err)
		}
		database, m, err := decodeSegment(xa[1+n:])
		if err != nil || database != dbA.Database || len(xa) < 1+n+m+8 {
			t.Fatalf("expiry key %q: database %q, %v", xa, database, err)
		}
		at := int64(binary.BigEndian.Uint64(xa[1+n+m:]) ^ (1 << 63))
		path, err := decodePath(xa[1+n+m+8:])
		if err != nil || at != ta || !slices.Equal(path, pathA) {
			t.Fatalf("expiry key %q decodes to %q at %d, %v; want %q at %d", xa, path, at, err, pathA, ta)
		}
	})
}
