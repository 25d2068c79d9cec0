package service

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tally-dev/tally/internal/testlog"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// rpcTimeout bounds every call of a test, so that a handler stopped by a failed mock expectation
// fails the test instead of hanging it.
const rpcTimeout = 10 * time.Second

// harness is a Server over a mock Counters, reachable over real gRPC.
type harness struct {
	// wire reaches the server through a gRPC connection, so requests, statuses and their details
	// are marshalled as a real client and server marshal them. counter.proto does not make
	// protobuf check strings for UTF-8, so wire also sends requests whose strings are not UTF-8.
	wire     tallyv1.CounterServiceClient
	counters *MockCounters
	logs     *testlog.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	counters := NewMockCounters(gomock.NewController(t))
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := New(Options{Counters: counters, Logger: logger})
	return &harness{
		wire:     serve(t, srv),
		counters: counters,
		logs:     logs,
	}
}

// serve runs srv on an in-memory listener with the server's codec, as tallyd does, and returns a
// client connected to it.
func serve(t *testing.T, srv tallyv1.CounterServiceServer) tallyv1.CounterServiceClient {
	t.Helper()
	return tallyv1.NewCounterServiceClient(serveConn(t, srv, grpc.ForceServerCodecV2(Codec())))
}

// serveConn runs srv, with the given server options, on an in-memory listener and returns a
// connection to it; both end with the test.
func serveConn(t *testing.T, srv tallyv1.CounterServiceServer, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer(opts...)
	tallyv1.RegisterCounterServiceServer(gs, srv)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

// wantFieldViolation checks that err is INVALID_ARGUMENT naming exactly field, both in the message
// and in a google.rpc.BadRequest detail.
func wantFieldViolation(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("status %v %q, want InvalidArgument", st.Code(), st.Message())
	}
	if !strings.HasPrefix(st.Message(), field+": ") {
		t.Errorf("message %q does not start with the field %q", st.Message(), field)
	}
	var violations []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			violations = append(violations, br.GetFieldViolations()...)
		}
	}
	if len(violations) != 1 {
		t.Fatalf("details %v: want one BadRequest field violation", st.Details())
	}
	if got := violations[0].GetField(); got != field {
		t.Errorf("BadRequest field %q, want %q", got, field)
	}
	if violations[0].GetDescription() == "" {
		t.Errorf("BadRequest violation of %q has no description", field)
	}
}
