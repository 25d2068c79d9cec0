package faultinject_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
)

const project = "faultinject-test"

// setup starts an emulator and returns an injector, a client through it, and a direct client
// to look at what the server really holds.
func setup(t *testing.T) (*faultinject.Injector, *firestore.Client, *firestore.Client) {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{})
	in := faultinject.New()
	return in, faultinject.NewClient(t, em.Addr(), project, in), emulatortest.NewClient(t, em.Addr(), project)
}

// count reads field n of the document at path through the direct client; -1 if the document
// does not exist.
func count(t *testing.T, direct *firestore.Client, path string) int64 {
	t.Helper()
	snap, err := direct.Doc(path).Get(context.Background())
	if status.Code(err) == codes.NotFound {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	n, _ := snap.Data()["n"].(int64)
	return n
}

func wantAnswers(t *testing.T, r *faultinject.Rule, want int) {
	t.Helper()
	answers := r.Answers()
	if len(answers) != want {
		t.Fatalf("the rule let %d calls through, want %d", len(answers), want)
	}
	for i, err := range answers {
		if err != nil {
			t.Fatalf("the server answered call %d with %v; the fault was meant to hit a call that applied", i, err)
		}
	}
}

func TestNothingArmedPassesThrough(t *testing.T) {
	t.Parallel()
	in, c, direct := setup(t)
	ctx := context.Background()
	if _, err := c.Doc("c/d").Create(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Doc("c/d").Get(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(t, direct, "c/d"); got != 1 {
		t.Fatalf("n = %d, want 1", got)
	}
	if in.Injected() != 0 || in.Calls(faultinject.Commit) != 1 || in.Calls(faultinject.BatchGetDocuments) != 1 {
		t.Fatalf("injected %d, commits %d, batch gets %d; want 0, 1, 1",
			in.Injected(), in.Calls(faultinject.Commit), in.Calls(faultinject.BatchGetDocuments))
	}
}

func TestLoseAnswer(t *testing.T) {
	t.Parallel()
	t.Run("unavailable: the client re-sends an applied commit", func(t *testing.T) {
		t.Parallel()
		in, c, direct := setup(t)
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.LoseAnswer})
		// A merged increment transform is not idempotent: a re-sent commit that had been applied
		// shows as a second increment.
		if _, err := c.Doc("c/d").Set(context.Background(), map[string]any{"n": firestore.Increment(1)}, firestore.MergeAll); err != nil {
			t.Fatalf("the re-sent commit should have succeeded: %v", err)
		}
		if got := count(t, direct, "c/d"); got != 2 {
			t.Fatalf("n = %d, want 2: applied by the lost call and again by the client's re-send", got)
		}
		if r.Fired() != 1 || in.Calls(faultinject.Commit) != 2 {
			t.Fatalf("fired %d, commits %d; want 1 and 2", r.Fired(), in.Calls(faultinject.Commit))
		}
		wantAnswers(t, r, 1)
	})
	t.Run("aborted: returned as is, applied", func(t *testing.T) {
		t.Parallel()
		in, c, direct := setup(t)
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.LoseAnswer, Code: codes.Aborted})
		_, err := c.Doc("c/d").Create(context.Background(), map[string]any{"n": 1})
		if status.Code(err) != codes.Aborted {
			t.Fatalf("create: %v, want ABORTED", err)
		}
		if got := count(t, direct, "c/d"); got != 1 {
			t.Fatalf("n = %d, want 1: the call reached the server", got)
		}
		if r.Fired() != 1 || in.Calls(faultinject.Commit) != 1 {
			t.Fatalf("fired %d, commits %d; want 1 and 1 (a plain commit is not retried on ABORTED)", r.Fired(), in.Calls(faultinject.Commit))
		}
		wantAnswers(t, r, 1)
	})
	t.Run("the server's failure is recorded", func(t *testing.T) {
		t.Parallel()
		in, c, _ := setup(t)
		ctx := context.Background()
		if _, err := c.Doc("c/d").Create(ctx, map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.LoseAnswer, Code: codes.Aborted})
		if _, err := c.Doc("c/d").Create(ctx, map[string]any{"n": 1}); status.Code(err) != codes.Aborted {
			t.Fatalf("create: %v, want the injected ABORTED", err)
		}
		if a := r.Answers(); len(a) != 1 || status.Code(a[0]) != codes.AlreadyExists {
			t.Fatalf("answers %v, want the server's ALREADY_EXISTS", a)
		}
	})
}

func TestFailBefore(t *testing.T) {
	t.Parallel()
	t.Run("unavailable: the client re-sends, applied once", func(t *testing.T) {
		t.Parallel()
		in, c, direct := setup(t)
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.FailBefore})
		// A re-sent create succeeds only if the first send was not applied.
		if _, err := c.Doc("c/d").Create(context.Background(), map[string]any{"n": 1}); err != nil {
			t.Fatalf("create: %v", err)
		}
		if got := count(t, direct, "c/d"); got != 1 {
			t.Fatalf("n = %d, want 1", got)
		}
		if r.Fired() != 1 || in.Calls(faultinject.Commit) != 2 || len(r.Answers()) != 0 {
			t.Fatalf("fired %d, commits %d, answers %v; want 1, 2 and none", r.Fired(), in.Calls(faultinject.Commit), r.Answers())
		}
	})
	t.Run("other code: nothing applied", func(t *testing.T) {
		t.Parallel()
		in, c, direct := setup(t)
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.FailBefore, Code: codes.PermissionDenied})
		if _, err := c.Doc("c/d").Create(context.Background(), map[string]any{"n": 1}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("create: %v, want PERMISSION_DENIED", err)
		}
		if got := count(t, direct, "c/d"); got != -1 {
			t.Fatalf("the document exists (n = %d); nothing should have been sent", got)
		}
		if r.Fired() != 1 {
			t.Fatalf("fired %d", r.Fired())
		}
	})
}

// TestDelays holds calls with Release, and checks where the hold is: before the server saw the
// call, or after it applied it.
func TestDelays(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		action       faultinject.Action
		appliedWhile int64 // n seen while the call is held (-1: no document)
	}{
		{faultinject.DelayBefore, -1},
		{faultinject.DelayAfter, 1},
	} {
		t.Run(tt.action.String(), func(t *testing.T) {
			t.Parallel()
			in, c, direct := setup(t)
			release := make(chan struct{})
			r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: tt.action, Release: release})
			done := make(chan error, 1)
			go func() {
				_, err := c.Doc("c/d").Create(context.Background(), map[string]any{"n": 1})
				done <- err
			}()
			<-r.Hit()
			if got := count(t, direct, "c/d"); got != tt.appliedWhile {
				t.Fatalf("while held: n = %d, want %d", got, tt.appliedWhile)
			}
			select {
			case err := <-done:
				t.Fatalf("the call returned (%v) while held", err)
			default:
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := count(t, direct, "c/d"); got != 1 {
				t.Fatalf("after release: n = %d, want 1", got)
			}
			wantAnswers(t, r, 1)
		})
	}
	t.Run("duration", func(t *testing.T) {
		t.Parallel()
		in, c, _ := setup(t)
		const delay = 50 * time.Millisecond
		in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.DelayBefore, Delay: delay})
		start := time.Now()
		if _, err := c.Doc("c/d").Create(context.Background(), map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < delay {
			t.Fatalf("the call took %v, less than the delay %v", took, delay)
		}
	})
	t.Run("the caller's deadline ends the hold", func(t *testing.T) {
		t.Parallel()
		in, c, direct := setup(t)
		in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.DelayBefore, Release: make(chan struct{})})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.Doc("c/d").Create(ctx, map[string]any{"n": 1}); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("create: %v, want DEADLINE_EXCEEDED", err)
		}
		if got := count(t, direct, "c/d"); got != -1 {
			t.Fatalf("n = %d: a call held before sending must not be applied", got)
		}
	})
}

func TestApplyThenTimeout(t *testing.T) {
	t.Parallel()
	t.Run("caller's deadline", func(t *testing.T) {
		t.Parallel()
		in, c, direct := setup(t)
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.ApplyThenTimeout})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Doc("c/d").Create(ctx, map[string]any{"n": 1})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("create: %v, want DEADLINE_EXCEEDED", err)
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("the call returned before the caller's deadline (ctx: %v)", ctx.Err())
		}
		if got := count(t, direct, "c/d"); got != 1 {
			t.Fatalf("n = %d, want 1: the call must apply despite the deadline", got)
		}
		wantAnswers(t, r, 1)
	})
	t.Run("no deadline: Delay stands in", func(t *testing.T) {
		t.Parallel()
		// Through the Firestore client every Commit has a deadline (the library's own 60s), so
		// this calls the interceptor directly, with an invoker that stands for the server.
		in := faultinject.New()
		const delay = 50 * time.Millisecond
		r := in.Arm(faultinject.Fault{Method: faultinject.Commit, Action: faultinject.ApplyThenTimeout, Delay: delay})
		var invokedDone <-chan struct{}
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			invokedDone = ctx.Done()
			return nil
		}
		caller, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		err := in.UnaryInterceptor()(caller, faultinject.Commit, &pb.CommitRequest{}, &pb.CommitResponse{}, nil, invoker)
		if status.Code(err) != codes.DeadlineExceeded || time.Since(start) < delay {
			t.Fatalf("%v after %v, want DEADLINE_EXCEEDED after at least %v", err, time.Since(start), delay)
		}
		if invokedDone != nil {
			t.Fatal("the call was sent with a context that can be cancelled; it must be detached from the caller's")
		}
		wantAnswers(t, r, 1)
	})
}

// TestPredicatesAndTimes: a rule faults only the calls its predicate selects, and only Times of
// them; ABORTED on a transaction's commit makes RunTransaction run the function again.
func TestPredicatesAndTimes(t *testing.T) {
	t.Parallel()
	in, c, direct := setup(t)
	ctx := context.Background()
	r := in.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.TransactionalCommit,
		Action: faultinject.LoseAnswer, Code: codes.Aborted, Times: 2})
	if _, err := c.Doc("c/d").Set(ctx, map[string]any{"n": 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		_, err := tx.Get(c.Doc("c/d"))
		return err
	}, firestore.ReadOnly); err != nil {
		t.Fatal(err)
	}
	if r.Fired() != 0 {
		t.Fatalf("fired %d times on a plain commit and a read-only transaction", r.Fired())
	}
	runs := 0
	if err := c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		runs++
		if _, err := tx.Get(c.Doc("c/d")); err != nil {
			return err
		}
		return tx.Set(c.Doc("c/d"), map[string]any{"n": firestore.Increment(1)}, firestore.MergeAll)
	}); err != nil {
		t.Fatal(err)
	}
	if runs != 3 || r.Fired() != 2 {
		t.Fatalf("the function ran %d times, the rule fired %d; want 3 and 2", runs, r.Fired())
	}
	if got := count(t, direct, "c/d"); got != 3 {
		t.Fatalf("n = %d, want 3: each aborted answer hid an applied commit", got)
	}
	if in.Injected() != 2 {
		t.Fatalf("injected %d, want 2", in.Injected())
	}

	w := in.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.All(faultinject.PlainCommit, faultinject.Writes("/b/")),
		Action: faultinject.FailBefore, Code: codes.PermissionDenied, Times: -1})
	if _, err := c.Doc("a/x").Set(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatalf("a write elsewhere was faulted: %v", err)
	}
	for range 2 {
		if _, err := c.Doc("b/x").Set(ctx, map[string]any{"n": 1}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("write to b/x: %v, want PERMISSION_DENIED", err)
		}
	}
	w.Disarm()
	if _, err := c.Doc("b/x").Set(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatalf("after Disarm: %v", err)
	}
	if w.Fired() != 2 {
		t.Fatalf("fired %d, want 2", w.Fired())
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	t.Run("fail before", func(t *testing.T) {
		t.Parallel()
		in, c, _ := setup(t)
		r := in.Arm(faultinject.Fault{Method: faultinject.BatchGetDocuments, Action: faultinject.FailBefore, Code: codes.PermissionDenied})
		if _, err := c.Doc("c/d").Get(context.Background()); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("get: %v, want PERMISSION_DENIED", err)
		}
		if r.Fired() != 1 {
			t.Fatalf("fired %d", r.Fired())
		}
	})
	t.Run("unavailable before: the client retries", func(t *testing.T) {
		t.Parallel()
		in, c, _ := setup(t)
		in.Arm(faultinject.Fault{Method: faultinject.BatchGetDocuments, Action: faultinject.FailBefore})
		if _, err := c.Doc("c/d").Get(context.Background()); status.Code(err) != codes.NotFound {
			t.Fatalf("get: %v, want NOT_FOUND from the retried read", err)
		}
		if in.Calls(faultinject.BatchGetDocuments) != 2 {
			t.Fatalf("%d reads, want 2", in.Calls(faultinject.BatchGetDocuments))
		}
	})
	t.Run("lose answer of a query, by predicate", func(t *testing.T) {
		t.Parallel()
		in, c, _ := setup(t)
		ctx := context.Background()
		if _, err := c.Doc("c/d").Set(ctx, map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		isQuery := func(req any) bool { _, ok := req.(*pb.RunQueryRequest); return ok }
		r := in.Arm(faultinject.Fault{If: isQuery, Action: faultinject.LoseAnswer, Code: codes.PermissionDenied})
		if _, err := c.Collection("c").Documents(ctx).GetAll(); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("query: %v, want PERMISSION_DENIED", err)
		}
		wantAnswers(t, r, 1)
		if docs, err := c.Collection("c").Documents(ctx).GetAll(); err != nil || len(docs) != 1 {
			t.Fatalf("the next query: %d documents, %v", len(docs), err)
		}
	})
	t.Run("delay after", func(t *testing.T) {
		t.Parallel()
		in, c, _ := setup(t)
		release := make(chan struct{})
		r := in.Arm(faultinject.Fault{Method: faultinject.BatchGetDocuments, Action: faultinject.DelayAfter, Release: release})
		done := make(chan error, 1)
		go func() {
			_, err := c.Doc("c/d").Get(context.Background())
			done <- err
		}()
		<-r.Hit()
		select {
		case err := <-done:
			t.Fatalf("the read returned (%v) while held", err)
		default:
		}
		close(release)
		if err := <-done; status.Code(err) != codes.NotFound {
			t.Fatalf("get: %v, want NOT_FOUND", err)
		}
	})
}
