package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func badRequest(t *testing.T) error {
	t.Helper()
	st, err := status.New(codes.InvalidArgument, "invalid UpdateCounterRequest").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "counter.shard_count", Description: "must be 0 to 1000, got 5000"},
			{Field: "counter.name", Description: `counter ID must not contain "/"`},
		},
	})
	if err != nil {
		t.Fatalf("building the status: %v", err)
	}
	return st.Err()
}

func TestServerErrors(t *testing.T) {
	runCases(t, []cliCase{
		{
			name:  "bad request field violations are listed",
			args:  []string{"resize", "a/b", "--shards", "5000"},
			reply: replyError(badRequest(t)),
			wantRequests: []proto.Message{&tallyv1.UpdateCounterRequest{
				Counter:    &tallyv1.Counter{Name: "counters/a/b", ShardCount: 5000},
				UpdateMask: fieldMask("shard_count"),
			}},
			want: outcome{code: exitFailed, stderr: "" +
				"tally: INVALID_ARGUMENT: invalid UpdateCounterRequest\n" +
				"  counter.shard_count: must be 0 to 1000, got 5000\n" +
				"  counter.name: counter ID must not contain \"/\"\n"},
		},
		{
			name:  "unavailable from a reachable server is a server error once retries run out",
			args:  []string{"--attempts", "2", "inc", "x", "--key", "k"},
			reply: replyError(status.Error(codes.Unavailable, "commit outcome unknown; retry with the same idempotency key")),
			wantRequests: []proto.Message{
				&tallyv1.IncrementRequest{Name: "counters/x", Delta: 1, IdempotencyKey: "k"},
				&tallyv1.IncrementRequest{Name: "counters/x", Delta: 1, IdempotencyKey: "k"},
			},
			want: outcome{code: exitFailed, stderr: "tally: UNAVAILABLE: commit outcome unknown; retry with the same idempotency key\n"},
		},
		{
			name:         "deadline exceeded reported by the server",
			args:         []string{"get", "x"},
			reply:        replyError(status.Error(codes.DeadlineExceeded, "storage too slow")),
			wantRequests: []proto.Message{&tallyv1.GetCounterRequest{Name: "counters/x"}},
			want:         outcome{code: exitFailed, stderr: "tally: DEADLINE_EXCEEDED: storage too slow\n"},
		},
		{
			name:         "failed precondition",
			args:         []string{"inc", "x", "2", "--key", "k"},
			reply:        replyError(status.Error(codes.FailedPrecondition, `idempotency_key "k" was used for a different request`)),
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 2, IdempotencyKey: "k"}},
			want:         outcome{code: exitFailed, stderr: `tally: FAILED_PRECONDITION: idempotency_key "k" was used for a different request` + "\n"},
		},
		{
			name:         "a server without the method",
			args:         []string{"delete", "x"},
			wantRequests: []proto.Message{&tallyv1.DeleteCounterRequest{Name: "counters/x"}},
			want:         outcome{code: exitFailed, stderr: "tally: UNIMPLEMENTED: the test gave the fake no reply\n"},
		},
	})
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return addr
}

// silentPort returns a loopback address that accepts TCP connections and
// never speaks, like a hung server.
func silentPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

func TestUnreachable(t *testing.T) {
	refused := closedPort(t)
	silent := silentPort(t)
	tests := []struct {
		name string
		args []string
	}{
		// The failures are retried: nothing was sent, so even a write
		// without a key may be, and a read may always be.
		{"connection refused", []string{"--addr", refused, "--attempts", "3", "inc", "x"}},
		{"connection refused, one attempt without a key", []string{"--addr", refused, "inc", "x", "--no-key"}},
		{"connection refused without a deadline", []string{"--addr", refused, "--timeout", "0", "--attempts", "2", "get", "x"}},
		{"no answer before the deadline", []string{"--addr", silent, "--timeout", "100ms", "list"}},
		// The deadline covers the retries: they stop when it passes.
		{"refused until the deadline", []string{"--addr", refused, "--timeout", "300ms", "--attempts", "100", "reset", "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runTally(context.Background(), tc.args...)
			if got.code != exitUnreachable {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", got.code, exitUnreachable, got.stderr)
			}
			addr := tc.args[1]
			if want := "tally: cannot reach the server at " + addr + ": "; !strings.HasPrefix(got.stderr, want) {
				t.Errorf("stderr = %q, want it to start with %q", got.stderr, want)
			}
			if got.stdout != "" {
				t.Errorf("stdout = %q, want nothing", got.stdout)
			}
			// Nothing reached the server, so nothing was applied.
			if strings.Contains(got.stderr, "may have been applied") {
				t.Errorf("stderr = %q, want no doubt about a write that never left", got.stderr)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	addr, fake := startFake(t, replyWith(&tallyv1.IncrementResponse{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := runTally(ctx, "--addr", addr, "inc", "x")
	checkOutcome(t, got, outcome{code: exitFailed, stderr: "tally: interrupted\n"})
	checkRequests(t, fake.recorded(), nil)
}
