package emulator_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

// listenTimeout bounds how long a test waits for a snapshot that should arrive promptly; a
// listener that never delivers fails the test instead of hanging it.
const listenTimeout = 30 * time.Second

func listenCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), listenTimeout)
	t.Cleanup(cancel)
	return ctx
}

func nextDoc(t *testing.T, it *firestore.DocumentSnapshotIterator) *firestore.DocumentSnapshot {
	t.Helper()
	snap, err := it.Next()
	if err != nil {
		t.Fatalf("DocumentSnapshotIterator.Next: %v", err)
	}
	return snap
}

func nextQuery(t *testing.T, it *firestore.QuerySnapshotIterator) *firestore.QuerySnapshot {
	t.Helper()
	snap, err := it.Next()
	if err != nil {
		t.Fatalf("QuerySnapshotIterator.Next: %v", err)
	}
	return snap
}

// ids lists the document ids of a query snapshot in order.
func snapIDs(t *testing.T, qs *firestore.QuerySnapshot) []string {
	t.Helper()
	docs, err := qs.Documents.GetAll()
	if err != nil {
		t.Fatalf("GetAll: %v", err)
	}
	var out []string
	for _, d := range docs {
		out = append(out, d.Ref.ID)
	}
	return out
}

type change struct {
	kind firestore.DocumentChangeKind
	id   string
}

func changesOf(qs *firestore.QuerySnapshot) []change {
	var out []change
	for _, c := range qs.Changes {
		out = append(out, change{c.Kind, c.Doc.Ref.ID})
	}
	return out
}

func TestListenDocumentSnapshots(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		doc := c.Collection("watched").Doc("d")
		it := doc.Snapshots(ctx)
		defer it.Stop()
		if s := nextDoc(t, it); s.Exists() {
			t.Fatalf("first snapshot exists: %v", s.Data())
		}
		if _, err := doc.Set(ctx, map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		if s := nextDoc(t, it); !s.Exists() || s.Data()["n"] != int64(1) {
			t.Fatalf("after set: exists %v, data %v", s.Exists(), s.Data())
		}
		wr, err := doc.Update(ctx, []firestore.Update{{Path: "n", Value: 2}})
		if err != nil {
			t.Fatal(err)
		}
		s := nextDoc(t, it)
		if s.Data()["n"] != int64(2) || !s.UpdateTime.Equal(wr.UpdateTime) || s.ReadTime.Before(wr.UpdateTime) {
			t.Fatalf("after update: data %v update %v read %v, want n=2 at %v", s.Data(), s.UpdateTime, s.ReadTime, wr.UpdateTime)
		}
		if _, err := doc.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if s := nextDoc(t, it); s.Exists() {
			t.Fatalf("after delete: exists, data %v", s.Data())
		}
	})
}

func TestListenQuerySnapshots(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		coll := c.Collection("items")
		for id, n := range map[string]int{"a": 1, "b": 5, "c": 9} {
			if _, err := coll.Doc(id).Set(ctx, map[string]any{"n": n}); err != nil {
				t.Fatal(err)
			}
		}
		it := coll.Where("n", ">", 2).OrderBy("n", firestore.Asc).Snapshots(ctx)
		defer it.Stop()
		qs := nextQuery(t, it)
		if got := snapIDs(t, qs); !equalStrings(got, []string{"b", "c"}) {
			t.Fatalf("initial: %v, want [b c]", got)
		}
		steps := []struct {
			name string
			do   func() error
			want []string
			chg  []change
		}{
			{"a starts matching", func() error { _, err := coll.Doc("a").Set(ctx, map[string]any{"n": 7}); return err },
				[]string{"b", "a", "c"}, []change{{firestore.DocumentAdded, "a"}}},
			{"a non-matching write elsewhere", func() error { _, err := coll.Doc("z").Set(ctx, map[string]any{"n": 0}); return err },
				nil, nil},
			{"b modified", func() error { _, err := coll.Doc("b").Set(ctx, map[string]any{"n": 8}); return err },
				[]string{"a", "b", "c"}, []change{{firestore.DocumentModified, "b"}}},
			{"c stops matching", func() error { _, err := coll.Doc("c").Set(ctx, map[string]any{"n": 1}); return err },
				[]string{"a", "b"}, []change{{firestore.DocumentRemoved, "c"}}},
			{"a deleted", func() error { _, err := coll.Doc("a").Delete(ctx); return err },
				[]string{"b"}, []change{{firestore.DocumentRemoved, "a"}}},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if st.want == nil {
				continue // nothing to see; the next step's snapshot proves nothing came
			}
			qs := nextQuery(t, it)
			if got := snapIDs(t, qs); !equalStrings(got, st.want) {
				t.Fatalf("%s: %v, want %v", st.name, got, st.want)
			}
			if got := changesOf(qs); !equalChanges(got, st.chg) {
				t.Fatalf("%s: changes %v, want %v", st.name, got, st.chg)
			}
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalChanges(a, b []change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
