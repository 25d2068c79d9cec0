package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// blockingService answers Increment once release is closed, after handing the call's context to
// entered: a test sees which calls reached the handler, and holds them there.
type blockingService struct {
	tallyv1.UnimplementedCounterServiceServer
	entered chan context.Context
	release chan struct{}
}

func newBlockingService() *blockingService {
	return &blockingService{entered: make(chan context.Context, 64), release: make(chan struct{})}
}

func (s *blockingService) Increment(ctx context.Context, _ *tallyv1.IncrementRequest) (*tallyv1.IncrementResponse, error) {
	s.entered <- ctx
	select {
	case <-s.release:
		return &tallyv1.IncrementResponse{}, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// limitsServer serves svc and a SERVING health service on loopback through newGRPCServer, with
// the configuration of args, and returns a connection to it.
func limitsServer(t *testing.T, svc tallyv1.CounterServiceServer, limit *limiter, args ...string) *grpc.ClientConn {
	t.Helper()
	cfg, err := parseConfig(args, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if limit == nil {
		limit = newLimiter(cfg.MaxConcurrentCalls, nil)
	}
	gs := newGRPCServer(cfg, limit, &openCalls{})
	tallyv1.RegisterCounterServiceServer(gs, svc)
	healthpb.RegisterHealthServer(gs, health.NewServer()) // SERVING for ""
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestConcurrencyLimitShedsAtOnce: with --max-concurrent-calls calls in progress, one more is
// refused at once with RESOURCE_EXHAUSTED without reaching its handler, and counted; health
// checks still answer; once the calls end, calls are served again.
func TestConcurrencyLimitShedsAtOnce(t *testing.T) {
	t.Parallel()
	svc := newBlockingService()
	limit := newLimiter(2, nil)
	conn := limitsServer(t, svc, limit, "--max-concurrent-calls", "2")
	c := tallyv1.NewCounterServiceClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	held := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1})
			held <- err
		}()
	}
	for range 2 {
		<-svc.entered
	}
	_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "nothing was applied") {
		t.Fatalf("a third call with two in progress: %v, want RESOURCE_EXHAUSTED saying nothing was applied", err)
	}
	if n := len(svc.entered); n != 0 {
		t.Fatalf("the shed call reached the handler (%d calls entered)", n)
	}
	if got := limit.Shed(); got != 1 {
		t.Errorf("Shed() = %d, want 1", got)
	}
	// Health is exempt: it must answer while tallyd is saturated, which is when it is asked.
	hc := healthpb.NewHealthClient(conn)
	if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check while saturated: %v, %v", resp, err)
	}
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch while saturated: %v, %v", resp, err)
	}

	close(svc.release)
	for range 2 {
		if err := <-held; err != nil {
			t.Errorf("a call in progress: %v", err)
		}
	}
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1}); err != nil {
		t.Fatalf("a call after the others ended: %v", err)
	}
	if got := limit.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d after every call ended", got)
	}
}

// TestLimiterStreams checks the limiter on streams: a limited stream beyond the limit is refused
// before its handler runs, a health stream is not.
func TestLimiterStreams(t *testing.T) {
	limit := newLimiter(1, nil)
	if !limit.acquire() {
		t.Fatal("the first slot is taken")
	}
	reached := false
	handler := func(any, grpc.ServerStream) error { reached = true; return nil }
	err := limit.stream(nil, fakeStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: "/tally.v1.CounterService/Some"}, handler)
	if status.Code(err) != codes.ResourceExhausted || reached {
		t.Fatalf("a stream beyond the limit: %v, handler reached %v", err, reached)
	}
	err = limit.stream(nil, fakeStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: "/grpc.health.v1.Health/Watch"}, handler)
	if err != nil || !reached {
		t.Fatalf("a health stream beyond the limit: %v, handler reached %v", err, reached)
	}
	if limit.Shed() != 1 {
		t.Fatalf("Shed() = %d, want 1", limit.Shed())
	}
}

// TestDefaultDeadline: a call without a deadline gets --default-deadline; a call's own deadline
// stands, even a longer one.
func TestDefaultDeadline(t *testing.T) {
	t.Parallel()
	svc := newBlockingService()
	close(svc.release)
	c := tallyv1.NewCounterServiceClient(limitsServer(t, svc, nil, "--default-deadline", "7s"))
	tests := []struct {
		name     string
		timeout  time.Duration // 0: none
		min, max time.Duration // of the deadline the handler sees: from the call's start, from its end
	}{
		{name: "none: the default", min: 6 * time.Second, max: 7 * time.Second},
		{name: "shorter: its own", timeout: 3 * time.Second, min: 2 * time.Second, max: 3 * time.Second},
		{name: "longer: its own", timeout: time.Hour, min: 59 * time.Minute, max: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1}); err != nil {
				t.Fatal(err)
			}
			end := time.Now()
			deadline, ok := (<-svc.entered).Deadline()
			if !ok {
				t.Fatal("the handler's context has no deadline")
			}
			if deadline.Before(start.Add(tt.min)) || deadline.After(end.Add(tt.max)) {
				t.Fatalf("the handler's deadline is %v after the call started, want %v to %v", deadline.Sub(start), tt.min, tt.max)
			}
		})
	}
}

// TestDefaultDeadlineSparesHealthAndStreamsGetIt: a health Watch is a long-lived stream and gets
// no deadline; another stream without one gets the default.
func TestDefaultDeadlineSparesHealthAndStreamsGetIt(t *testing.T) {
	d := defaultDeadline(time.Minute)
	var seen context.Context
	handler := func(_ any, ss grpc.ServerStream) error { seen = ss.Context(); return nil }
	for _, tt := range []struct {
		method      string
		wantDefault bool
	}{
		{"/grpc.health.v1.Health/Watch", false},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", false},
		{"/tally.v1.CounterService/Some", true},
	} {
		if err := d.stream(nil, fakeStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: tt.method}, handler); err != nil {
			t.Fatal(err)
		}
		if _, ok := seen.Deadline(); ok != tt.wantDefault {
			t.Errorf("%s: the handler's stream has a deadline: %v, want %v", tt.method, ok, tt.wantDefault)
		}
	}
}

// fakeStream is a server stream with a context and nothing else.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s fakeStream) Context() context.Context { return s.ctx }

// TestMaxMessageBytes: a request larger than --max-message-bytes is refused with
// RESOURCE_EXHAUSTED before its handler runs; a smaller one is served.
func TestMaxMessageBytes(t *testing.T) {
	t.Parallel()
	svc := newBlockingService()
	close(svc.release)
	c := tallyv1.NewCounterServiceClient(limitsServer(t, svc, nil, "--max-message-bytes", "1024"))
	ctx := t.Context()
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/" + strings.Repeat("x", 2000)}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 2 kB request with a limit of 1 kB: %v, want RESOURCE_EXHAUSTED", err)
	}
	if n := len(svc.entered); n != 0 {
		t.Fatal("the oversized request reached the handler")
	}
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/" + strings.Repeat("x", 900)}); err != nil {
		t.Fatalf("a request under the limit: %v", err)
	}
}

// TestMaxBatchNamesFlag: --max-batch-names reaches the service; a larger batch is refused and
// nothing of it applied.
func TestMaxBatchNamesFlag(t *testing.T) {
	t.Parallel()
	c := dial(t, startTallyd(t, "", "--max-batch-names", "2").addr)
	ctx := t.Context()
	inc := func(ids ...string) error {
		var reqs []*tallyv1.IncrementRequest
		for _, id := range ids {
			reqs = append(reqs, &tallyv1.IncrementRequest{Name: "counters/" + id, Delta: 1})
		}
		_, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: reqs})
		return err
	}
	if err := inc("a", "b"); err != nil {
		t.Fatalf("a batch of two increments: %v", err)
	}
	if err := inc("a", "b", "c"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a batch of three increments with --max-batch-names 2: %v, want INVALID_ARGUMENT", err)
	}
	_, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b", "counters/a"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a batch of three names with --max-batch-names 2: %v, want INVALID_ARGUMENT", err)
	}
	got, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}})
	if err != nil {
		t.Fatalf("a batch of two names: %v", err)
	}
	if a := got.GetCounters()[0].GetValue(); a != 1 {
		t.Fatalf("a = %d after one applied batch and one refused", a)
	}
}
