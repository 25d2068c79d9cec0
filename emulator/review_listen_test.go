package emulator_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
)

// Review tests of Listen: windowed queries, overflow of a slow listener, atomicity of one
// commit in every snapshot, and resume tokens across a restart on the same data directory.

func TestReviewListenLimitRefills(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		coll := c.Collection("ranked")
		for i, id := range []string{"a", "b", "c", "d", "e"} {
			if _, err := coll.Doc(id).Set(ctx, map[string]any{"n": i + 1, "k": "x"}); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name string
			q    firestore.Query
			// wants after: initial, e drops to 0, d deleted, f added at 10, b stops matching
			want [][]string
		}{
			{"limit", coll.Where("k", "==", "x").OrderBy("n", firestore.Desc).Limit(2),
				[][]string{{"e", "d"}, {"d", "c"}, {"c", "b"}, {"f", "c"}, {"f", "c"}}},
			{"limit top stops matching", coll.Where("k", "==", "x").OrderBy("n", firestore.Asc).Limit(2),
				[][]string{{"a", "b"}, {"e", "a"}, {"e", "a"}, {"e", "a"}, {"e", "a"}}},
		}
		// One listener per case, all open at once, then the same steps for all.
		type open struct {
			name string
			it   *firestore.QuerySnapshotIterator
			want [][]string
		}
		var its []open
		for _, tc := range cases {
			it := tc.q.Snapshots(ctx)
			t.Cleanup(it.Stop)
			its = append(its, open{tc.name, it, tc.want})
		}
		check := func(step int) {
			t.Helper()
			for _, o := range its {
				if step > 0 && equalStrings(o.want[step], o.want[step-1]) {
					continue // unchanged: the client shows no snapshot
				}
				// Read snapshots until the expected one, failing on a deadline (listenCtx).
				for {
					qs, err := o.it.Next()
					if err != nil {
						t.Fatalf("%s step %d: %v", o.name, step, err)
					}
					got := snapIDs(t, qs)
					if equalStrings(got, o.want[step]) {
						break
					}
					t.Logf("%s step %d: intermediate %v (want %v)", o.name, step, got, o.want[step])
				}
			}
		}
		check(0)
		steps := []func() error{
			func() error { _, err := coll.Doc("e").Set(ctx, map[string]any{"n": 0, "k": "x"}); return err },
			func() error { _, err := coll.Doc("d").Delete(ctx); return err },
			func() error { _, err := coll.Doc("f").Set(ctx, map[string]any{"n": 10, "k": "x"}); return err },
			func() error { _, err := coll.Doc("b").Set(ctx, map[string]any{"n": 2, "k": "y"}); return err },
		}
		for i, st := range steps {
			if err := st(); err != nil {
				t.Fatal(err)
			}
			check(i + 1)
		}
	})
}

// A listener that does not read while many large changes are made must still end at the exact
// state (its queue overflows and it catches up from storage).
func TestReviewListenSlowListenerCatchesUp(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		// Thousands of large writes take a while under the race detector: a longer bound.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		coll := c.Collection("bulk")
		it := coll.Snapshots(ctx)
		defer it.Stop()
		if qs := nextQuery(t, it); qs.Size != 0 {
			t.Fatalf("initial size %d", qs.Size)
		}
		pad := strings.Repeat("p", 1000) // fills the stream's flow-control window, so it blocks
		const rounds, per = 18, 500      // 9,000 changes, beyond the 8,192 a stream queues
		var last time.Time
		for r := range rounds {
			wb := c.Batch()
			for i := range per {
				id := fmt.Sprintf("d%03d", i)
				if r%3 == 2 && i%2 == 0 {
					wb.Delete(coll.Doc(id))
					continue
				}
				wb.Set(coll.Doc(id), map[string]any{"r": r, "pad": pad})
			}
			res, err := wb.Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			last = res[1].UpdateTime // res[0] may be a delete, which has no update time
		}
		want := map[string]int64{}
		docs, err := coll.Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			want[d.Ref.ID] = d.Data()["r"].(int64)
		}
		for {
			qs := nextQuery(t, it)
			if qs.ReadTime.Before(last) {
				continue
			}
			got := map[string]int64{}
			all, err := qs.Documents.GetAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range all {
				got[d.Ref.ID] = d.Data()["r"].(int64)
			}
			if len(got) != len(want) {
				t.Fatalf("after catching up: %d documents, want %d", len(got), len(want))
			}
			for id, r := range want {
				if got[id] != r {
					t.Fatalf("after catching up: %s has r=%d, want %d", id, got[id], r)
				}
			}
			return
		}
	})
}

// Every snapshot shows a commit whole: two documents written together always agree.
func TestReviewListenCommitsAreAtomicAndOrdered(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		coll := c.Collection("pairs")
		a, b := coll.Doc("a"), coll.Doc("b")
		it := coll.Snapshots(ctx)
		defer it.Stop()
		nextQuery(t, it)
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				wb := c.Batch()
				wb.Set(a, map[string]any{"i": i})
				wb.Set(b, map[string]any{"i": i})
				if _, err := wb.Commit(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
		prev := int64(0)
		var prevRead time.Time
		for prev < n {
			qs := nextQuery(t, it)
			all, err := qs.Documents.GetAll()
			if err != nil {
				t.Fatal(err)
			}
			if qs.ReadTime.Before(prevRead) {
				t.Fatalf("read time went back: %v after %v", qs.ReadTime, prevRead)
			}
			prevRead = qs.ReadTime
			if len(all) != 2 {
				t.Fatalf("snapshot of %d documents, want 2 (a commit seen in part)", len(all))
			}
			x, y := all[0].Data()["i"].(int64), all[1].Data()["i"].(int64)
			if x != y {
				t.Fatalf("a=%d b=%d in one snapshot: a commit seen in part", x, y)
			}
			if x < prev {
				t.Fatalf("value went back: %d after %d", x, prev)
			}
			prev = x
		}
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	})
}

// reviewRawListen opens a Listen stream on the emulator at addr for a query on collection coll.
func reviewRawListen(t *testing.T, ctx context.Context, addr, coll string, token []byte) pb.Firestore_ListenClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	db := "projects/" + project + "/databases/(default)"
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer owner", "google-cloud-resource-prefix", db)
	lc, err := pb.NewFirestoreClient(conn).Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := &pb.Target{
		TargetId: 7,
		TargetType: &pb.Target_Query{Query: &pb.Target_QueryTarget{
			Parent: db + "/documents",
			QueryType: &pb.Target_QueryTarget_StructuredQuery{StructuredQuery: &pb.StructuredQuery{
				From: []*pb.StructuredQuery_CollectionSelector{{CollectionId: coll}},
			}},
		}},
	}
	if token != nil {
		target.ResumeType = &pb.Target_ResumeToken{ResumeToken: token}
	}
	if err := lc.Send(&pb.ListenRequest{Database: db, TargetChange: &pb.ListenRequest_AddTarget{AddTarget: target}}); err != nil {
		t.Fatal(err)
	}
	return lc
}

// reviewUntilSnapshot reads responses up to the first global NO_CHANGE after CURRENT, and returns
// them and that NO_CHANGE's resume token.
func reviewUntilSnapshot(t *testing.T, lc pb.Firestore_ListenClient) ([]*pb.ListenResponse, []byte) {
	t.Helper()
	var got []*pb.ListenResponse
	current := false
	for {
		r, err := lc.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		got = append(got, r)
		tc := r.GetTargetChange()
		switch {
		case tc == nil:
		case tc.TargetChangeType == pb.TargetChange_CURRENT:
			current = true
		case tc.TargetChangeType == pb.TargetChange_NO_CHANGE && len(tc.TargetIds) == 0 && current:
			return got, tc.ResumeToken
		}
	}
}

func TestReviewListenResumesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	em, err := emulator.Start(context.Background(), emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := em.Addr()
	c := emulatortest.NewClient(t, addr, project)
	ctx := listenCtx(t)
	coll := c.Collection("resumed")
	for _, id := range []string{"keep", "change", "gone", "leave"} {
		if _, err := coll.Doc(id).Set(ctx, map[string]any{"v": 1}); err != nil {
			t.Fatal(err)
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	lc := reviewRawListen(t, lctx, addr, "resumed", nil)
	_, token := reviewUntilSnapshot(t, lc)
	cancel()
	if _, err := coll.Doc("change").Set(ctx, map[string]any{"v": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.Doc("gone").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.Doc("new").Set(ctx, map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	em2 := emulatortest.Start(t, emulator.Options{DataDir: dir})
	lc2 := reviewRawListen(t, ctx, em2.Addr(), "resumed", token)
	got, _ := reviewUntilSnapshot(t, lc2)
	changed, deleted := map[string]bool{}, map[string]bool{}
	filter := int32(-1)
	for _, r := range got {
		switch {
		case r.GetDocumentChange() != nil:
			name := r.GetDocumentChange().GetDocument().GetName()
			changed[name[strings.LastIndex(name, "/")+1:]] = true
		case r.GetDocumentDelete() != nil:
			name := r.GetDocumentDelete().GetDocument()
			deleted[name[strings.LastIndex(name, "/")+1:]] = true
		case r.GetDocumentRemove() != nil:
			name := r.GetDocumentRemove().GetDocument()
			deleted[name[strings.LastIndex(name, "/")+1:]] = true
		case r.GetFilter() != nil:
			filter = r.GetFilter().GetCount()
		case r.GetTargetChange().GetTargetChangeType() == pb.TargetChange_RESET:
			t.Fatalf("the resume token was not honoured after a restart: RESET")
		}
	}
	if len(changed) != 2 || !changed["change"] || !changed["new"] {
		t.Errorf("changed after resume: %v, want change and new", changed)
	}
	if len(deleted) != 1 || !deleted["gone"] {
		t.Errorf("deleted after resume: %v, want gone", deleted)
	}
	if filter != 4 {
		t.Errorf("existence filter %d, want 4", filter)
	}
}
