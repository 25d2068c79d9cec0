package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// replyFunc answers one request of the fake server.
type replyFunc func(req proto.Message) (proto.Message, error)

// fakeServer records every request and answers with reply.
type fakeServer struct {
	tallyv1.UnimplementedCounterServiceServer
	reply replyFunc

	// watches script the WatchCounter streams, one per call in order; a call
	// beyond them waits for the client to leave.
	watches []watchScript
	// onWatch, if set, runs as each WatchCounter call starts.
	onWatch func()

	mu       sync.Mutex
	requests []proto.Message
	watched  int // WatchCounter calls so far
}

// watchScript is one WatchCounter stream of the fake: its updates, then its
// end (nil: the stream stays open until the client leaves).
type watchScript struct {
	updates []*tallyv1.WatchCounterResponse
	end     error
}

var _ tallyv1.CounterServiceServer = (*fakeServer)(nil)

func (f *fakeServer) handle(req proto.Message) (proto.Message, error) {
	f.mu.Lock()
	f.requests = append(f.requests, proto.Clone(req))
	f.mu.Unlock()
	if f.reply == nil {
		return nil, status.Error(codes.Unimplemented, "the test gave the fake no reply")
	}
	return f.reply(req)
}

func (f *fakeServer) recorded() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Message(nil), f.requests...)
}

// answer converts the fake's reply to the method's response type.
func answer[T proto.Message](m proto.Message, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	resp, ok := m.(T)
	if !ok {
		return zero, status.Errorf(codes.Internal, "the test's fake replied %T, want %T", m, zero)
	}
	return resp, nil
}

func (f *fakeServer) Increment(_ context.Context, r *tallyv1.IncrementRequest) (*tallyv1.IncrementResponse, error) {
	return answer[*tallyv1.IncrementResponse](f.handle(r))
}

func (f *fakeServer) BatchIncrement(_ context.Context, r *tallyv1.BatchIncrementRequest) (*tallyv1.BatchIncrementResponse, error) {
	return answer[*tallyv1.BatchIncrementResponse](f.handle(r))
}

func (f *fakeServer) GetCounter(_ context.Context, r *tallyv1.GetCounterRequest) (*tallyv1.Counter, error) {
	return answer[*tallyv1.Counter](f.handle(r))
}

func (f *fakeServer) BatchGetCounters(_ context.Context, r *tallyv1.BatchGetCountersRequest) (*tallyv1.BatchGetCountersResponse, error) {
	return answer[*tallyv1.BatchGetCountersResponse](f.handle(r))
}

func (f *fakeServer) CreateCounter(_ context.Context, r *tallyv1.CreateCounterRequest) (*tallyv1.Counter, error) {
	return answer[*tallyv1.Counter](f.handle(r))
}

func (f *fakeServer) UpdateCounter(_ context.Context, r *tallyv1.UpdateCounterRequest) (*tallyv1.Counter, error) {
	return answer[*tallyv1.Counter](f.handle(r))
}

func (f *fakeServer) ResetCounter(_ context.Context, r *tallyv1.ResetCounterRequest) (*tallyv1.ResetCounterResponse, error) {
	return answer[*tallyv1.ResetCounterResponse](f.handle(r))
}

func (f *fakeServer) DeleteCounter(_ context.Context, r *tallyv1.DeleteCounterRequest) (*emptypb.Empty, error) {
	return answer[*emptypb.Empty](f.handle(r))
}

func (f *fakeServer) ListCounters(_ context.Context, r *tallyv1.ListCountersRequest) (*tallyv1.ListCountersResponse, error) {
	return answer[*tallyv1.ListCountersResponse](f.handle(r))
}

func (f *fakeServer) WatchCounter(r *tallyv1.WatchCounterRequest, stream grpc.ServerStreamingServer[tallyv1.WatchCounterResponse]) error {
	f.mu.Lock()
	f.requests = append(f.requests, proto.Clone(r))
	n := f.watched
	f.watched++
	f.mu.Unlock()
	if f.onWatch != nil {
		f.onWatch()
	}
	if n >= len(f.watches) {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	for _, u := range f.watches[n].updates {
		if err := stream.Send(u); err != nil {
			return err
		}
	}
	if f.watches[n].end == nil {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return f.watches[n].end
}

// startFake serves a fake on a loopback port for the rest of the test and
// returns its address.
func startFake(t *testing.T, reply replyFunc) (string, *fakeServer) {
	t.Helper()
	return startFakeWith(t, reply)
}

// startFakeWith is startFake with options for the gRPC server, such as TLS
// or an interceptor.
func startFakeWith(t *testing.T, reply replyFunc, opts ...grpc.ServerOption) (string, *fakeServer) {
	t.Helper()
	return startFakeServer(t, &fakeServer{reply: reply}, opts...)
}

// startFakeServer serves fake, prepared by the test, on a loopback port.
func startFakeServer(t *testing.T, fake *fakeServer, opts ...grpc.ServerOption) (string, *fakeServer) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(opts...)
	tallyv1.RegisterCounterServiceServer(srv, fake)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		// Stop may win the race with Serve, which then reports that.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("fake server: %v", err)
		}
	})
	return lis.Addr().String(), fake
}

// outcome is what one run of the command produced.
type outcome struct {
	code           int
	stdout, stderr string
}

func runTally(ctx context.Context, args ...string) outcome {
	// A developer's $TALLY_ADDR or $TALLY_TOKEN must not change a test.
	return runTallyWith(ctx, nil, "", args...)
}

// runTallyWith runs tally with exactly the environment env and stdin.
func runTallyWith(ctx context.Context, env map[string]string, stdin string, args ...string) outcome {
	var stdout, stderr bytes.Buffer
	getenv := func(key string) string { return env[key] }
	code := run(ctx, args, getenv, strings.NewReader(stdin), &stdout, &stderr)
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// checkOutcome compares everything a run produced.
func checkOutcome(t *testing.T, got, want outcome) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("exit code = %d, want %d\nstderr:\n%s", got.code, want.code, got.stderr)
	}
	if got.stdout != want.stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", got.stdout, want.stdout)
	}
	if got.stderr != want.stderr {
		t.Errorf("stderr:\n%s\nwant:\n%s", got.stderr, want.stderr)
	}
}

// freshKey in a wanted request's idempotency key stands for the key the CLI
// draws for a run: any key of its documented shape, the same in every
// request of the run.
const freshKey = "<fresh>"

// freshKeyShape is that shape: 26 characters of the base32 alphabet.
var freshKeyShape = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// checkRequests compares the requests the fake received with want, in order.
// It returns the fresh key they carried, if any.
func checkRequests(t *testing.T, got, want []proto.Message) string {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("server got %d requests, want %d:\n%s", len(got), len(want), describe(got))
		return ""
	}
	var fresh string
	for i := range want {
		w := want[i]
		if k, ok := w.(keyed); ok && k.GetIdempotencyKey() == freshKey {
			g, ok := got[i].(keyed)
			if !ok {
				t.Errorf("request %d = %T, want %T", i, got[i], w)
				continue
			}
			key := g.GetIdempotencyKey()
			switch {
			case !freshKeyShape.MatchString(key):
				t.Errorf("request %d: idempotency key %q, want a fresh one matching %s", i, key, freshKeyShape)
			case fresh != "" && key != fresh:
				t.Errorf("request %d: idempotency key %q, want the run's key %q again", i, key, fresh)
			}
			fresh = key
			w = withKey(w, key)
		}
		if !proto.Equal(got[i], w) {
			t.Errorf("request %d = %T{%s}, want %T{%s}", i, got[i], prototext.Format(got[i]), w, prototext.Format(w))
		}
	}
	return fresh
}

// keyed is a request with an idempotency key.
type keyed interface {
	proto.Message
	GetIdempotencyKey() string
}

// withKey returns a copy of the keyed request m with key as its key.
func withKey(m proto.Message, key string) proto.Message {
	m = proto.Clone(m)
	switch r := m.(type) {
	case *tallyv1.IncrementRequest:
		r.IdempotencyKey = key
	case *tallyv1.BatchIncrementRequest:
		r.IdempotencyKey = key
	case *tallyv1.ResetCounterRequest:
		r.IdempotencyKey = key
	}
	return m
}

func describe(ms []proto.Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "  %T{%s}\n", m, prototext.Format(m))
	}
	return b.String()
}

// replyWith answers every request with m.
func replyWith(m proto.Message) replyFunc {
	return func(proto.Message) (proto.Message, error) { return m, nil }
}

// failFirst answers the first n requests with err and the others as then
// does.
func failFirst(n int, err error, then replyFunc) replyFunc {
	var mu sync.Mutex
	calls := 0
	return func(req proto.Message) (proto.Message, error) {
		mu.Lock()
		calls++
		failing := calls <= n
		mu.Unlock()
		if failing {
			return nil, err
		}
		return then(req)
	}
}

// replyError answers every request with err.
func replyError(err error) replyFunc {
	return func(proto.Message) (proto.Message, error) { return nil, err }
}
