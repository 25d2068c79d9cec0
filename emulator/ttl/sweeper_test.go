package ttl

import (
	"context"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/txn"
)

func TestNewValidatesOptions(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no engine", Options{Store: e.store}, "Options.Engine is required"},
		{"no store", Options{Engine: e.engine}, "Options.Store is required"},
		{"invalid policy", Options{Engine: e.engine, Store: e.store, Policies: []Policy{{"g", ""}}}, "the field must not be empty"},
		{"two policies on one group", Options{Engine: e.engine, Store: e.store, Policies: []Policy{{"g", "a"}, {"g", "b"}}}, "at most one TTL field"},
		{"store indexing other policies", Options{Engine: e.engine, Store: e.store, Policies: []Policy{{"idempotency", "expire_at"}}}, "no expiry index for these policies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// notifyingEngine reports every BatchWrite once it has completed.
type notifyingEngine struct {
	*txn.Engine
	wrote chan<- int
}

func (n notifyingEngine) BatchWrite(ctx context.Context, db resource.Database, writes []txn.Write) (*txn.CommitResult, []error, error) {
	res, errs, err := n.Engine.BatchWrite(ctx, db, writes)
	select {
	case n.wrote <- len(writes):
	default: // the test has already seen a pass
	}
	return res, errs, err
}

func TestStartSweepsInTheBackgroundUntilStop(t *testing.T) {
	e := newEnv(t)
	e.put(mainDB, map[string]map[string]*pb.Value{"idempotency/x": expireAt(sweepNow.Add(-time.Hour))})
	wrote := make(chan int, 1)
	s := e.sweeper(Options{
		Engine:   notifyingEngine{Engine: e.engine, wrote: wrote},
		Policies: testPolicies,
		Interval: time.Millisecond,
	})
	t.Cleanup(s.Stop)
	s.Start()
	firstLoop := s.loopDone()
	s.Start()
	if s.loopDone() != firstLoop {
		t.Fatal("a second Start started a second loop")
	}
	select {
	case n := <-wrote:
		if n != 1 {
			t.Fatalf("the background pass deleted a batch of %d, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no background pass deleted the expired document within 10s")
	}
	s.Stop()
	s.Stop()
	if e.exists(mainDB, "idempotency/x") {
		t.Fatal("the expired document survived the background pass")
	}
	s.Start()
	if s.loopDone() != firstLoop {
		t.Fatal("Start after Stop started a new loop")
	}
}

// loopDone identifies the background loop the sweeper has started (nil: none).
func (s *Sweeper) loopDone() chan struct{} {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return s.done
}

func TestStartWithoutPoliciesRunsNothing(t *testing.T) {
	e := newEnv(t)
	s := e.sweeper(Options{})
	s.Start()
	if s.loopDone() != nil {
		t.Fatal("Start without policies started a background loop")
	}
	s.Stop()
}
