package emulator_test

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
)

func TestWriteBatchIsAtomic(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("batch")
		if _, err := col.Doc("exists").Set(ctx, map[string]any{"v": 0}); err != nil {
			t.Fatal(err)
		}
		ok := c.Batch()
		ok.Set(col.Doc("a"), map[string]any{"v": 1})
		ok.Update(col.Doc("exists"), []firestore.Update{{Path: "v", Value: firestore.Increment(5)}})
		ok.Create(col.Doc("b"), map[string]any{"v": 2})
		results, err := ok.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 3 {
			t.Fatalf("%d results, want 3", len(results))
		}
		for i, r := range results[1:] {
			if !r.UpdateTime.Equal(results[0].UpdateTime) {
				t.Fatalf("write %d has update time %v, write 0 %v: one commit has one time", i+1, r.UpdateTime, results[0].UpdateTime)
			}
		}

		failing := c.Batch()
		failing.Set(col.Doc("c"), map[string]any{"v": 3})
		failing.Create(col.Doc("a"), map[string]any{"v": 4}) // exists: the whole batch fails
		_, err = failing.Commit(ctx)
		wantCode(t, err, codes.AlreadyExists)
		mustNotExist(t, col.Doc("c"))
		if got := mustGet(t, col.Doc("a")).Data()["v"]; got != int64(1) {
			t.Fatalf("a.v = %v, want 1", got)
		}
		if got := mustGet(t, col.Doc("exists")).Data()["v"]; got != int64(5) {
			t.Fatalf("exists.v = %v, want 5", got)
		}
	})
}

func TestBulkWriterReportsEachWrite(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("bulk")
		if _, err := col.Doc("taken").Set(ctx, map[string]any{"v": 0}); err != nil {
			t.Fatal(err)
		}
		bw := c.BulkWriter(ctx)
		var jobs []*firestore.BulkWriterJob
		for i := range 40 {
			j, err := bw.Set(col.Doc(fmt.Sprintf("d%02d", i)), map[string]any{"i": i})
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, j)
		}
		conflict, err := bw.Create(col.Doc("taken"), map[string]any{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		missing, err := bw.Update(col.Doc("missing"), []firestore.Update{{Path: "v", Value: 1}})
		if err != nil {
			t.Fatal(err)
		}
		bw.End()
		for i, j := range jobs {
			if _, err := j.Results(); err != nil {
				t.Errorf("job %d: %v", i, err)
			}
		}
		_, err = conflict.Results()
		wantCode(t, err, codes.AlreadyExists)
		_, err = missing.Results()
		wantCode(t, err, codes.NotFound)
		if got := mustGet(t, col.Doc("d39")).Data()["i"]; got != int64(39) {
			t.Fatalf("d39.i = %v", got)
		}
	})
}
