package emulator_test

import (
	"context"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator"
)

// loseCommitAnswers is a client interceptor that lets transactional Commits reach the emulator,
// but answers the first lose successful ones with UNAVAILABLE, as if the answer had been lost on
// the way back. The official client's generated layer retries Commit on UNAVAILABLE, so the same
// Commit arrives again.
type loseCommitAnswers struct {
	mu      sync.Mutex
	lose    int      // answers still to lose
	commits [][]byte // transaction of each Commit that reached the emulator
}

func (l *loseCommitAnswers) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	c, ok := req.(*pb.CommitRequest)
	if !ok || len(c.GetTransaction()) == 0 {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commits = append(l.commits, c.GetTransaction())
	if err == nil && l.lose > 0 {
		l.lose--
		return status.Error(codes.Unavailable, "test: the answer to Commit was lost")
	}
	return err
}

// TestTransactionWhoseCommitAnswerIsLost checks what a re-sent transactional Commit gets: the
// client re-sends the same Commit after a lost answer, and RunTransaction must succeed with the
// transaction's writes applied once.
func TestTransactionWhoseCommitAnswerIsLost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lose int
	}{
		{"one answer lost", 1},
		{"two answers lost", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			em := startEmulator(t)
			lost := &loseCommitAnswers{lose: tt.lose}
			opts, err := emulator.ClientOptions(em.Addr(), grpc.WithUnaryInterceptor(lost.intercept))
			if err != nil {
				t.Fatal(err)
			}
			c, err := firestore.NewClient(ctx, project, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })

			doc := c.Collection("resend").Doc("counter")
			if _, err := doc.Set(ctx, map[string]any{"n": 1}); err != nil {
				t.Fatal(err)
			}
			attempts := 0
			err = c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
				attempts++
				snap, err := tx.Get(doc)
				if err != nil {
					return err
				}
				return tx.Set(doc, map[string]any{"n": snap.Data()["n"].(int64) + 1})
			})
			if err != nil {
				t.Fatalf("RunTransaction: %v", err)
			}
			if attempts != 1 {
				t.Errorf("the transaction ran %d times, want once", attempts)
			}
			if len(lost.commits) != tt.lose+1 {
				t.Fatalf("%d Commits reached the emulator, want the first and %d re-sends", len(lost.commits), tt.lose)
			}
			for i, id := range lost.commits {
				if string(id) != string(lost.commits[0]) {
					t.Errorf("Commit %d was of transaction %q, want the re-send of %q", i, id, lost.commits[0])
				}
			}
			if got := mustGet(t, doc).Data()["n"]; got != int64(2) {
				t.Errorf("n = %v, want 2: the transaction applied once", got)
			}
		})
	}
}
