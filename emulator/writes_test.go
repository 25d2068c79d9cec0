package emulator_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
)

func TestWritesAndPreconditions(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("things")

		t.Run("create then create again", func(t *testing.T) {
			doc := col.Doc("created")
			if _, err := doc.Create(ctx, map[string]any{"a": 1}); err != nil {
				t.Fatal(err)
			}
			_, err := doc.Create(ctx, map[string]any{"a": 2})
			wantCode(t, err, codes.AlreadyExists)
			if got := mustGet(t, doc).Data()["a"]; got != int64(1) {
				t.Fatalf("a = %v after a failed create, want 1", got)
			}
		})

		t.Run("set replaces, merge set merges", func(t *testing.T) {
			doc := col.Doc("set")
			if _, err := doc.Set(ctx, map[string]any{"a": 1, "b": map[string]any{"x": 1, "y": 2}}); err != nil {
				t.Fatal(err)
			}
			if _, err := doc.Set(ctx, map[string]any{"b": map[string]any{"y": 3}, "c": "new"}, firestore.MergeAll); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"a": int64(1), "b": map[string]any{"x": int64(1), "y": int64(3)}, "c": "new"}
			if got := mustGet(t, doc).Data(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after merge: got %v, want %v", got, want)
			}
			if _, err := doc.Set(ctx, map[string]any{"only": true}); err != nil {
				t.Fatal(err)
			}
			if got := mustGet(t, doc).Data(); !reflect.DeepEqual(got, map[string]any{"only": true}) {
				t.Fatalf("after set: got %v", got)
			}
			if _, err := doc.Set(ctx, map[string]any{"b": map[string]any{"z": 1}, "gone": 1}, firestore.Merge([]string{"b", "z"})); err != nil {
				t.Fatal(err)
			}
			if got := mustGet(t, doc).Data(); !reflect.DeepEqual(got, map[string]any{"only": true, "b": map[string]any{"z": int64(1)}}) {
				t.Fatalf("after merge of named fields: got %v", got)
			}
		})

		t.Run("update needs an existing document", func(t *testing.T) {
			doc := col.Doc("update-missing")
			_, err := doc.Update(ctx, []firestore.Update{{Path: "a", Value: 1}})
			wantCode(t, err, codes.NotFound)
			mustNotExist(t, doc)
		})

		t.Run("update changes named fields and deletes with Delete", func(t *testing.T) {
			doc := col.Doc("update")
			if _, err := doc.Set(ctx, map[string]any{"a": 1, "b": 2, "m": map[string]any{"k": 1, "l": 2}}); err != nil {
				t.Fatal(err)
			}
			if _, err := doc.Update(ctx, []firestore.Update{
				{Path: "a", Value: 10},
				{Path: "b", Value: firestore.Delete},
				{FieldPath: []string{"m", "k"}, Value: "nested"},
				{FieldPath: []string{"odd.name"}, Value: true},
			}); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"a": int64(10), "m": map[string]any{"k": "nested", "l": int64(2)}, "odd.name": true}
			if got := mustGet(t, doc).Data(); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})

		t.Run("update_time precondition", func(t *testing.T) {
			doc := col.Doc("update-time")
			wr, err := doc.Set(ctx, map[string]any{"v": 1})
			if err != nil {
				t.Fatal(err)
			}
			stale := wr.UpdateTime.Add(-time.Microsecond)
			_, err = doc.Update(ctx, []firestore.Update{{Path: "v", Value: 2}}, firestore.LastUpdateTime(stale))
			wantCode(t, err, codes.FailedPrecondition)
			if _, err := doc.Update(ctx, []firestore.Update{{Path: "v", Value: 3}}, firestore.LastUpdateTime(wr.UpdateTime)); err != nil {
				t.Fatalf("update with the right update_time: %v", err)
			}
			_, err = doc.Delete(ctx, firestore.LastUpdateTime(wr.UpdateTime))
			wantCode(t, err, codes.FailedPrecondition)
			if got := mustGet(t, doc).Data()["v"]; got != int64(3) {
				t.Fatalf("v = %v, want 3", got)
			}
		})

		t.Run("delete", func(t *testing.T) {
			missing := col.Doc("never-existed")
			if _, err := missing.Delete(ctx); err != nil {
				t.Fatalf("deleting a missing document without precondition: %v", err)
			}
			_, err := missing.Delete(ctx, firestore.Exists)
			wantCode(t, err, codes.NotFound)

			doc := col.Doc("to-delete")
			wr, err := doc.Set(ctx, map[string]any{"a": 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := doc.Delete(ctx, firestore.LastUpdateTime(wr.UpdateTime)); err != nil {
				t.Fatal(err)
			}
			mustNotExist(t, doc)
		})

		t.Run("recreate after delete gets a new create time", func(t *testing.T) {
			doc := col.Doc("recreated")
			first, err := doc.Create(ctx, map[string]any{"n": 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := doc.Delete(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := doc.Create(ctx, map[string]any{"n": 2}); err != nil {
				t.Fatal(err)
			}
			snap := mustGet(t, doc)
			if !snap.CreateTime.After(first.UpdateTime) {
				t.Fatalf("create time %v is not after the first incarnation's %v", snap.CreateTime, first.UpdateTime)
			}
		})

		t.Run("a write that changes nothing keeps the update time", func(t *testing.T) {
			doc := col.Doc("unchanged")
			first, err := doc.Set(ctx, map[string]any{"a": 1})
			if err != nil {
				t.Fatal(err)
			}
			again, err := doc.Set(ctx, map[string]any{"a": 1})
			if err != nil {
				t.Fatal(err)
			}
			if !again.UpdateTime.Equal(first.UpdateTime) {
				t.Fatalf("update time moved from %v to %v on a no-op write", first.UpdateTime, again.UpdateTime)
			}
			changed, err := doc.Set(ctx, map[string]any{"a": 2})
			if err != nil {
				t.Fatal(err)
			}
			if !changed.UpdateTime.After(first.UpdateTime) {
				t.Fatalf("update time %v did not move forward from %v", changed.UpdateTime, first.UpdateTime)
			}
			if got := mustGet(t, doc).CreateTime; !got.Equal(first.UpdateTime) {
				t.Fatalf("create time %v changed from %v", got, first.UpdateTime)
			}
		})

		t.Run("commit times are microseconds and only go forward", func(t *testing.T) {
			doc := col.Doc("clock")
			var last time.Time
			for i := range 50 {
				wr, err := doc.Set(ctx, map[string]any{"i": i})
				if err != nil {
					t.Fatal(err)
				}
				if !wr.UpdateTime.After(last) {
					t.Fatalf("write %d: commit time %v not after %v", i, wr.UpdateTime, last)
				}
				if wr.UpdateTime.Nanosecond()%1000 != 0 {
					t.Fatalf("commit time %v has sub-microsecond digits", wr.UpdateTime)
				}
				last = wr.UpdateTime
			}
		})

		t.Run("values round trip", func(t *testing.T) {
			doc := col.Doc("types")
			ts := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
			in := map[string]any{
				"null": nil, "bool": true, "int": int64(-7), "double": 2.5, "ts": ts, "string": "héllo",
				"bytes": []byte{0, 1, 2}, "ref": col.Doc("other"), "array": []any{int64(1), "two", []byte("3")},
				"map": map[string]any{"nested": map[string]any{"deep": int64(1)}},
			}
			if _, err := doc.Set(ctx, in); err != nil {
				t.Fatal(err)
			}
			got := mustGet(t, doc).Data()
			if got["ts"].(time.Time).Equal(ts.Truncate(time.Microsecond)) == false {
				t.Fatalf("timestamp %v, want %v truncated to microseconds", got["ts"], ts)
			}
			if ref := got["ref"].(*firestore.DocumentRef); ref.Path != col.Doc("other").Path {
				t.Fatalf("reference %v", ref.Path)
			}
			delete(got, "ts")
			delete(got, "ref")
			delete(in, "ts")
			delete(in, "ref")
			if !reflect.DeepEqual(got, in) {
				t.Fatalf("got %#v, want %#v", got, in)
			}
		})
	})
}

func TestDatabasesAreSeparateNamespaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	em := startEmulator(t)
	a := clientFor(t, em, "project-a", "")
	b := clientFor(t, em, "project-b", "")
	a2 := clientFor(t, em, "project-a", "second")
	if _, err := a.Doc("c/d").Set(ctx, map[string]any{"owner": "a"}); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, b.Doc("c/d"))
	mustNotExist(t, a2.Doc("c/d"))
	if _, err := a2.Doc("c/d").Set(ctx, map[string]any{"owner": "a2"}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, a.Doc("c/d")).Data()["owner"]; got != "a" {
		t.Fatalf("owner = %v, want a", got)
	}
}
