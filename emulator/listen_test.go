package emulator_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
)

// listenTimeout bounds how long a test waits for a snapshot that should arrive promptly; a
// listener that never delivers fails the test instead of hanging it.
const listenTimeout = 2 * time.Minute

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

func TestListenCollectionGroup(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		for path, n := range map[string]int{"users/a/posts/1": 1, "users/b/posts/2": 2, "posts/top": 3, "users/a/posts/0": 0} {
			if _, err := c.Doc(path).Set(ctx, map[string]any{"n": n}); err != nil {
				t.Fatal(err)
			}
		}
		it := c.CollectionGroup("posts").Where("n", ">", 0).Snapshots(ctx)
		defer it.Stop()
		if got := snapIDs(t, nextQuery(t, it)); !equalStrings(got, []string{"top", "1", "2"}) {
			t.Fatalf("initial: %v, want [top 1 2] (name order)", got)
		}
		// Another collection id, also nested: never part of the group.
		if _, err := c.Doc("users/c/drafts/9").Set(ctx, map[string]any{"n": 9}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Doc("users/c/posts/4").Set(ctx, map[string]any{"n": 4}); err != nil {
			t.Fatal(err)
		}
		qs := nextQuery(t, it)
		if got := changesOf(qs); !equalChanges(got, []change{{firestore.DocumentAdded, "4"}}) {
			t.Fatalf("after writes: changes %v, want only 4 added", got)
		}
	})
}

// TestListenWindowedQuery listens to a query with a limit: documents enter and leave the window
// as others change.
func TestListenWindowedQuery(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		coll := c.Collection("scores")
		for id, n := range map[string]int{"a": 1, "b": 2, "c": 3} {
			if _, err := coll.Doc(id).Set(ctx, map[string]any{"n": n}); err != nil {
				t.Fatal(err)
			}
		}
		it := coll.OrderBy("n", firestore.Desc).Limit(2).Snapshots(ctx)
		defer it.Stop()
		if got := snapIDs(t, nextQuery(t, it)); !equalStrings(got, []string{"c", "b"}) {
			t.Fatalf("initial: %v, want [c b]", got)
		}
		if _, err := coll.Doc("d").Set(ctx, map[string]any{"n": 4}); err != nil {
			t.Fatal(err)
		}
		qs := nextQuery(t, it)
		if got := snapIDs(t, qs); !equalStrings(got, []string{"d", "c"}) {
			t.Fatalf("after d: %v, want [d c]", got)
		}
		if got := changesOf(qs); !equalChanges(got, []change{{firestore.DocumentRemoved, "b"}, {firestore.DocumentAdded, "d"}}) {
			t.Fatalf("after d: changes %v", got)
		}
		if _, err := coll.Doc("c").Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if got := snapIDs(t, nextQuery(t, it)); !equalStrings(got, []string{"d", "b"}) {
			t.Fatalf("after deleting c: %v, want [d b]", got)
		}
	})
}

func TestListenCancel(t *testing.T) {
	t.Parallel()
	c := newClient(t, false)
	ctx, cancel := context.WithCancel(listenCtx(t))
	it := c.Collection("c").Where("n", ">", 1).Snapshots(ctx)
	defer it.Stop()
	nextQuery(t, it)
	cancel()
	if _, err := it.Next(); status.Code(err) != codes.Canceled {
		t.Fatalf("Next after cancel: %v, want Canceled", err)
	}
}

// resumedWithToken checks that the client's last target carried a resume token and that the
// emulator answered it with an existence filter rather than a reset.
func resumedWithToken(t *testing.T, tap *listenTap) {
	t.Helper()
	adds, received := tap.snapshot()
	if len(adds) < 2 {
		t.Fatalf("the client added %d targets, want a second one after the break", len(adds))
	}
	if len(adds[len(adds)-1].GetResumeToken()) == 0 {
		t.Fatalf("the target added after the break has no resume token")
	}
	filters := 0
	for _, r := range received {
		if strings.HasPrefix(r, "RESET") {
			t.Fatalf("the emulator reset the target instead of resuming it: %v", received)
		}
		if strings.HasPrefix(r, "FILTER") {
			filters++
		}
	}
	if filters != 1 {
		t.Fatalf("saw %d existence filters, want 1 (on resuming): %v", filters, received)
	}
}

// TestListenResumesAfterStreamBreak breaks a listener's stream while a change is on its way;
// the client reconnects with its resume token and is sent what changed meanwhile.
func TestListenResumesAfterStreamBreak(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "disk"}[durable], func(t *testing.T) {
			t.Parallel()
			testListenResumesAfterStreamBreak(t, durable)
		})
	}
}

func testListenResumesAfterStreamBreak(t *testing.T, durable bool) {
	{
		opts := emulator.Options{}
		if durable {
			opts.DataDir = t.TempDir()
		}
		em := emulatortest.Start(t, opts)
		tap := &listenTap{}
		c := emulatortest.NewClient(t, em.Addr(), project, tap.dialOption())
		ctx := listenCtx(t)
		coll := c.Collection("c")
		for _, id := range []string{"a", "b", "c"} {
			if _, err := coll.Doc(id).Set(ctx, map[string]any{"n": 1}); err != nil {
				t.Fatal(err)
			}
		}
		it := coll.Where("n", ">", 0).Snapshots(ctx)
		defer it.Stop()
		if got := snapIDs(t, nextQuery(t, it)); !equalStrings(got, []string{"a", "b", "c"}) {
			t.Fatalf("initial: %v", got)
		}
		release := tap.breakOnNextResponse()
		if _, err := coll.Doc("a").Set(ctx, map[string]any{"n": 2}); err != nil {
			t.Fatal(err)
		}
		// The first change broke the stream; these happen while the client is away.
		if _, err := coll.Doc("b").Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := coll.Doc("d").Set(ctx, map[string]any{"n": 3}); err != nil {
			t.Fatal(err)
		}
		release()
		docs, err := nextQuery(t, it).Documents.GetAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range docs {
			got = append(got, fmt.Sprintf("%s=%v", d.Ref.ID, d.Data()["n"]))
		}
		if want := []string{"a=2", "c=1", "d=3"}; !equalStrings(got, want) {
			t.Fatalf("after the break: %v, want %v", got, want)
		}
		resumedWithToken(t, tap)
	}
}

// TestListenResumesAfterRestart restarts the emulator on the same data directory and address
// under a listener: the client resumes with its token, and the restarted emulator answers
// from the versions it kept on disk.
func TestListenResumesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	em1, err := emulator.Start(context.Background(), emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := em1.Addr()
	tap := &listenTap{}
	c := emulatortest.NewClient(t, addr, project, tap.dialOption())
	ctx := listenCtx(t)
	coll := c.Collection("c")
	for _, id := range []string{"a", "b"} {
		if _, err := coll.Doc(id).Set(ctx, map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
	}
	it := coll.Where("n", ">", 0).Snapshots(ctx)
	defer it.Stop()
	if got := snapIDs(t, nextQuery(t, it)); !equalStrings(got, []string{"a", "b"}) {
		t.Fatalf("initial: %v", got)
	}
	release := tap.holdReconnects()
	if err := em1.Close(); err != nil {
		t.Fatal(err)
	}
	em2 := emulatortest.Start(t, emulator.Options{DataDir: dir, Addr: addr})
	raw := rawClient(t, em2)
	rawSet(t, raw, map[string]int64{"c/a": 5, "c/z": 2})
	rawDelete(t, raw, "c/b")
	release()
	qs := nextQuery(t, it)
	if got := snapIDs(t, qs); !equalStrings(got, []string{"a", "z"}) {
		t.Fatalf("after the restart: %v, want [a z]", got)
	}
	resumedWithToken(t, tap)
}

// TestListenSlowListenerCatchesUp writes many changes under a listener that does not read:
// commits go on (they never wait for listeners), the emulator drops the listener's backlog
// rather than buffer it, and once the listener reads again it reaches the exact final state.
func TestListenSlowListenerCatchesUp(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	tap := &listenTap{}
	// A small fixed receive window (no dynamic growth): the emulator's sends block soon.
	c := emulatortest.NewClient(t, em.Addr(), project, tap.dialOption(),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	raw := rawClient(t, em)
	ctx := listenCtx(t)
	// 4 KB documents: the emulator's bound on a stream's queue (4 MiB) is passed after about
	// a thousand commits.
	const docs, commits = 50, 1600
	pad := strings.Repeat("x", 4000)
	it := c.Collection("c").Snapshots(ctx)
	defer it.Stop()
	if got := snapIDs(t, nextQuery(t, it)); len(got) != 0 {
		t.Fatalf("initial: %v", got)
	}

	// Several writers, so that commits go as fast as the emulator takes them.
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < commits; i += writers {
				doc := fmt.Sprintf("%s/c/d%02d", testRoot, i%docs)
				_, err := raw.Commit(ctx, &pb.CommitRequest{Database: testDB, Writes: []*pb.Write{{Operation: &pb.Write_Update{Update: &pb.Document{
					Name: doc, Fields: map[string]*pb.Value{"i": {ValueType: &pb.Value_IntegerValue{IntegerValue: int64(i)}}, "pad": {ValueType: &pb.Value_StringValue{StringValue: pad}}}}}}}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("commit under a listener that does not read: %v", err)
	}
	// Concurrent writers race, so the final state is what a read finds now.
	final := map[string]int64{}
	all, err := c.Collection("c").Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		final[d.Ref.ID], _ = d.Data()["i"].(int64)
	}
	if len(final) != docs {
		t.Fatalf("read %d documents back, want %d", len(final), docs)
	}
	for {
		all, err := nextQuery(t, it).Documents.GetAll()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, d := range all {
			got[d.Ref.ID], _ = d.Data()["i"].(int64)
		}
		if maps.Equal(got, final) {
			break
		}
	}
	changes := 0
	_, received := tap.snapshot()
	for _, r := range received {
		if strings.HasPrefix(r, "CHANGE") {
			changes++
		}
	}
	if changes >= commits {
		t.Fatalf("the listener was sent %d document changes for %d commits: its backlog was kept, not dropped", changes, commits)
	}
	t.Logf("%d commits reached the listener as %d document changes", commits, changes)
}

// TestListenThousandTargets runs 1,000 listeners, each on its own stream and document, and one
// commit that changes every document.
func TestListenThousandTargets(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := listenCtx(t)
		const n = 1000
		its := make([]*firestore.DocumentSnapshotIterator, n)
		for i := range its {
			its[i] = c.Collection("many").Doc(fmt.Sprintf("d%04d", i)).Snapshots(ctx)
			defer its[i].Stop()
		}
		// Every listener's first snapshot: the document does not exist yet.
		var wg sync.WaitGroup
		errs := make(chan error, n)
		each := func(check func(i int, s *firestore.DocumentSnapshot) error) {
			for i, it := range its {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := it.Next()
					if err == nil {
						err = check(i, s)
					}
					if err != nil {
						errs <- fmt.Errorf("listener %d: %w", i, err)
					}
				}()
			}
			wg.Wait()
		}
		each(func(i int, s *firestore.DocumentSnapshot) error {
			if s.Exists() {
				return fmt.Errorf("exists before any write")
			}
			return nil
		})
		bw := c.BulkWriter(ctx)
		for i := range n {
			if _, err := bw.Set(c.Collection("many").Doc(fmt.Sprintf("d%04d", i)), map[string]any{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
		bw.End()
		each(func(i int, s *firestore.DocumentSnapshot) error {
			if !s.Exists() || s.Data()["i"] != int64(i) {
				return fmt.Errorf("got exists %v data %v, want i=%d", s.Exists(), s.Data(), i)
			}
			return nil
		})
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
