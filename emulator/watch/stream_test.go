package watch

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
)

// These tests run the Hub over a real engine on in-memory storage; the client is a send
// function the test controls, so that it can stop reading at will.

var testDB = resource.Database{Project: "p", Database: "(default)"}

func newEngine(t *testing.T) *txn.Engine {
	t.Helper()
	st, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	e := txn.New(txn.Options{Store: st})
	t.Cleanup(func() {
		e.Close()
		_ = st.Close()
	})
	return e
}

func set(t *testing.T, e *txn.Engine, id string, n int64) {
	t.Helper()
	_, err := e.Commit(context.Background(), testDB, nil, []txn.Write{{
		Path: []string{"c", id}, Fields: map[string]*pb.Value{"n": {ValueType: &pb.Value_IntegerValue{IntegerValue: n}}}}})
	if err != nil {
		t.Fatal(err)
	}
}

func collectionTarget(t *testing.T, id int32) *Target {
	t.Helper()
	q, err := query.Compile(testDB, nil, &pb.StructuredQuery{From: []*pb.StructuredQuery_CollectionSelector{{CollectionId: "c"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &Target{ID: id, Query: q}
}

// client is what a listener knows, built from the responses it is sent.
type client struct {
	docs      map[string]int64 // document name → n
	snapshots int
}

// isSnapshot reports whether r marks every target consistent (a global NO_CHANGE).
func isSnapshot(r *pb.ListenResponse) bool {
	tc := r.GetTargetChange()
	return tc != nil && tc.GetTargetChangeType() == pb.TargetChange_NO_CHANGE && len(tc.GetTargetIds()) == 0 && tc.GetReadTime() != nil
}

func (c *client) apply(r *pb.ListenResponse) {
	switch {
	case r.GetDocumentChange() != nil:
		d := r.GetDocumentChange().GetDocument()
		if len(r.GetDocumentChange().GetTargetIds()) > 0 {
			c.docs[d.GetName()] = d.GetFields()["n"].GetIntegerValue()
		} else {
			delete(c.docs, d.GetName())
		}
	case r.GetDocumentDelete() != nil:
		delete(c.docs, r.GetDocumentDelete().GetDocument())
	case r.GetDocumentRemove() != nil:
		delete(c.docs, r.GetDocumentRemove().GetDocument())
	case isSnapshot(r):
		c.snapshots++
	}
}

// TestSlowStreamQueueIsBounded stops reading a stream, commits far more than its queue holds,
// and checks that the queue stayed within its bound and that the stream, read again, brings
// the client to the exact final state.
func TestSlowStreamQueueIsBounded(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	const bound = 16
	h := New(Options{Engine: e, MaxQueued: bound})
	responses := make(chan *pb.ListenResponse) // unbuffered: the stream blocks until the test reads
	reqs := make(chan Request, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- h.Serve(ctx, testDB, reqs, func(r *pb.ListenResponse) error {
			select {
			case responses <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	reqs <- Request{Add: collectionTarget(t, 1)}
	c := &client{docs: map[string]int64{}}
	for c.snapshots == 0 {
		c.apply(<-responses)
	}
	// The stream's goroutine now blocks on its next send; the queue takes the rest.
	const docs, commits = 5, 400
	maxQueued := 0
	for i := range commits {
		set(t, e, fmt.Sprintf("d%d", i%docs), int64(i))
		for s := range h.streams {
			s.mu.Lock()
			maxQueued = max(maxQueued, s.queued)
			s.mu.Unlock()
		}
	}
	if maxQueued > bound {
		t.Fatalf("a stream queued %d changes, more than its bound %d", maxQueued, bound)
	}
	want := map[string]int64{}
	for i := commits - docs; i < commits; i++ {
		want[testDB.DocumentName([]string{"c", fmt.Sprintf("d%d", i%docs)})] = int64(i)
	}
	received := 0
	for {
		r := <-responses
		received++
		c.apply(r)
		if isSnapshot(r) && equalDocs(c.docs, want) {
			break
		}
	}
	if received >= commits {
		t.Fatalf("caught up with %d responses for %d commits: the backlog was kept", received, commits)
	}
	cancel()
	<-served
}

func equalDocs(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCloseEndsAStreamBlockedOnItsClient closes the Hub while a stream's goroutine is stuck
// sending to a client that never reads: Serve must still return, or the emulator's shutdown
// would wait forever.
func TestCloseEndsAStreamBlockedOnItsClient(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	h := New(Options{Engine: e})
	reqs := make(chan Request, 1)
	stuck := make(chan struct{})
	unblock := make(chan struct{})
	defer close(unblock)
	served := make(chan error, 1)
	go func() {
		served <- h.Serve(context.Background(), testDB, reqs, func(*pb.ListenResponse) error {
			select {
			case stuck <- struct{}{}:
			default:
			}
			<-unblock
			return context.Canceled
		})
	}()
	reqs <- Request{Add: collectionTarget(t, 1)}
	<-stuck
	e.EndFeed()
	if err := <-served; status.Code(err) != codes.Unavailable {
		t.Fatalf("Serve after EndFeed: %v, want UNAVAILABLE", err)
	}
	if err := h.Serve(context.Background(), testDB, reqs, nil); status.Code(err) != codes.Unavailable {
		t.Fatalf("Serve after the Hub closed: %v, want UNAVAILABLE", err)
	}
}

// TestClientsThatDoNotReadDoNotHoldUpOthers blocks more streams than there are delivery slots
// on clients that never read, and checks that a reading stream still gets every change.
func TestClientsThatDoNotReadDoNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	h := New(Options{Engine: e})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stuck := cap(deliverySlots) + 2
	blocked := make(chan struct{}, stuck)
	for range stuck {
		reqs := make(chan Request, 1)
		reqs <- Request{Add: collectionTarget(t, 1)}
		sends := 0
		go func() {
			_ = h.Serve(ctx, testDB, reqs, func(*pb.ListenResponse) error {
				if sends++; sends <= 3 { // ADD, CURRENT, the snapshot
					return nil
				}
				blocked <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			})
		}()
	}
	responses := make(chan *pb.ListenResponse, 64)
	reqs := make(chan Request, 1)
	reqs <- Request{Add: collectionTarget(t, 1)}
	go func() {
		_ = h.Serve(ctx, testDB, reqs, func(r *pb.ListenResponse) error {
			select {
			case responses <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for r := range responses {
		if isSnapshot(r) {
			break
		}
	}
	// Every stuck stream is now inside a send that never returns, holding its slot until the
	// emulator takes it back.
	set(t, e, "a", 1)
	for range stuck {
		<-blocked
	}
	set(t, e, "b", 2)
	c := &client{docs: map[string]int64{}}
	want := map[string]int64{testDB.DocumentName([]string{"c", "a"}): 1, testDB.DocumentName([]string{"c", "b"}): 2}
	// A guard, so that a stream starved of slots fails the test rather than hanging it.
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	for !equalDocs(c.docs, want) {
		select {
		case r := <-responses:
			c.apply(r)
		case <-guard.C:
			t.Fatalf("the reading stream got %v, want %v: the streams that do not read hold it up", c.docs, want)
		}
	}
}

// TestIdleStreamsGetFreshResumeTokens waits for a heartbeat on a stream nothing happens to: it
// moves the read time and resume token forward, so that the token does not age out.
func TestIdleStreamsGetFreshResumeTokens(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	h := New(Options{Engine: e, Heartbeat: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	responses := make(chan *pb.ListenResponse, 16)
	reqs := make(chan Request, 1)
	reqs <- Request{Add: collectionTarget(t, 1)}
	go func() {
		_ = h.Serve(ctx, testDB, reqs, func(r *pb.ListenResponse) error {
			select {
			case responses <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var first *pb.TargetChange
	for r := range responses {
		if isSnapshot(r) {
			first = r.GetTargetChange()
			break
		}
	}
	r := <-responses
	if !isSnapshot(r) {
		t.Fatalf("an idle stream got %v, want a heartbeat snapshot", r)
	}
	beat := r.GetTargetChange()
	if !beat.GetReadTime().AsTime().After(first.GetReadTime().AsTime()) {
		t.Fatalf("heartbeat read time %v, want after %v", beat.GetReadTime().AsTime(), first.GetReadTime().AsTime())
	}
	from, ok := decodeToken(beat.GetResumeToken())
	if !ok || from != beat.GetReadTime().AsTime().UnixMicro() {
		t.Fatalf("heartbeat token %x decodes to %d, %v; want its read time", beat.GetResumeToken(), from, ok)
	}
}
