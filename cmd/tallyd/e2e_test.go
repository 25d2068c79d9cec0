package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/tally-dev/tally/internal/testload"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func TestSixtyFourClientsOneCounterExactTotal(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "")
	const clients, each = 64, 40
	var wg sync.WaitGroup
	for range clients {
		c := dial(t, srv.addr) // a connection per client
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := c.Increment(context.Background(), &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := value(t, dial(t, srv.addr), "hot"); got != clients*each {
		t.Fatalf("value %d, want %d", got, clients*each)
	}
}

// TestRestartKeepsEveryValue runs tallyd as a real process, increments counters, and restarts it
// on the same data directory: after a graceful stop (SIGTERM) and after a crash (SIGKILL), every
// acknowledged increment is still there.
func TestRestartKeepsEveryValue(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the tallyd binary")
	}
	t.Parallel()
	p := startProcess(t, buildBinaries(t).tallyd, t.TempDir())
	want := map[string]int64{}
	for round, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		c := dial(t, p.Addr)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 30 {
					id := fmt.Sprintf("c%d", (w+i)%5)
					delta := int64(round*100 + i + 1)
					if _, err := c.Increment(context.Background(), &tallyv1.IncrementRequest{Name: "counters/" + id, Delta: delta}); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					want[id] += delta
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		err := p.Signal(sig)
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("graceful shutdown: %v", err)
		}
		p = p.Restart(t) // on the same data directory
		c = dial(t, p.Addr)
		for id, v := range want {
			if got := value(t, c, id); got != v {
				t.Fatalf("after %v and restart: %s = %d, want %d", sig, id, got, v)
			}
		}
	}
}

// TestRetriesWithOneKeyCountOnce retries increments the way a client would, including when the
// first attempt's answer is lost on the way back.
func TestRetriesWithOneKeyCountOnce(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "")
	var lose atomic.Int64
	dropAnswer := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil && lose.Add(-1) >= 0 {
			return status.Error(codes.Unavailable, "connection lost before the answer arrived (simulated)")
		}
		return err
	}
	c := dial(t, srv.addr, grpc.WithUnaryInterceptor(dropAnswer))
	ctx := context.Background()
	req := &tallyv1.IncrementRequest{Name: "counters/orders", Delta: 5, IdempotencyKey: "order-42"}

	lose.Store(1)
	if _, err := c.Increment(ctx, req); status.Code(err) != codes.Unavailable {
		t.Fatalf("first attempt: %v, want the simulated lost answer", err)
	}
	// The client does not know whether the increment applied, so it retries with the same key.
	var first *tallyv1.IncrementResponse
	for i := range 3 {
		resp, err := c.Increment(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !resp.GetDuplicate() {
			t.Fatalf("retry %d: not reported as a duplicate of the applied first attempt", i)
		}
		if first != nil && !resp.GetCommitTime().AsTime().Equal(first.GetCommitTime().AsTime()) {
			t.Fatalf("retries report different commit times: %v and %v", first.GetCommitTime(), resp.GetCommitTime())
		}
		first = resp
	}
	if got := value(t, c, "orders"); got != 5 {
		t.Fatalf("value %d, want 5: the key must apply once", got)
	}
	_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/orders", Delta: 6, IdempotencyKey: "order-42"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("same key, another delta: %v, want FailedPrecondition", err)
	}
}

func TestResizeUpAndDownUnderLoad(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "")
	c := dial(t, srv.addr)
	ctx := context.Background()
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "hot", Counter: &tallyv1.Counter{ShardCount: 4}}); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	load := testload.Start(32, func(int) bool {
		if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 3}); err != nil {
			t.Error(err)
			return false
		}
		sent.Add(3)
		return true
	})
	for _, n := range []int32{64, 1, 17, 2, 200, 8} {
		got, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
			Counter:    &tallyv1.Counter{Name: "counters/hot", ShardCount: n},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
		})
		if err != nil {
			t.Fatalf("resize to %d: %v", n, err)
		}
		if got.GetShardCount() != n {
			t.Fatalf("resize to %d answered %d shards", n, got.GetShardCount())
		}
	}
	load.Stop()
	if got := value(t, c, "hot"); got != sent.Load() {
		t.Fatalf("value %d, want %d", got, sent.Load())
	}
}

func TestBadInputsGetTheirCodeAndWriteNothing(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "")
	c := dial(t, srv.addr)
	ctx := context.Background()
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "full", Counter: &tallyv1.Counter{ShardCount: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/full", Delta: math.MaxInt64}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		call  func() error
		code  codes.Code
		field string // the BadRequest field violation expected for INVALID_ARGUMENT
	}{
		{"empty name", inc(c, "", 1), codes.InvalidArgument, "name"},
		{"name without counters/", inc(c, "x", 1), codes.InvalidArgument, "name"},
		{"id too long", inc(c, "counters/"+strings.Repeat("a", 1501), 1), codes.InvalidArgument, "name"},
		{"slash in id", inc(c, "counters/a/b", 1), codes.InvalidArgument, "name"},
		{"invalid UTF-8", func() error { return rawIncrement(srv.addr, "counters/\xff\xfe", 1) }, codes.InvalidArgument, "name"},
		{"dot id", inc(c, "counters/..", 1), codes.InvalidArgument, "name"},
		{"reserved id", inc(c, "counters/__x__", 1), codes.InvalidArgument, "name"},
		{"key too long", func() error {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/k", Delta: 1, IdempotencyKey: strings.Repeat("k", 1501)})
			return err
		}, codes.InvalidArgument, "idempotency_key"},
		{"delta overflow", inc(c, "counters/full", 1), codes.OutOfRange, ""},
		{"unknown counter on get", func() error {
			_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/nope"})
			return err
		}, codes.NotFound, ""},
		{"shard count too large", func() error {
			_, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "big", Counter: &tallyv1.Counter{ShardCount: 1001}})
			return err
		}, codes.InvalidArgument, "counter.shard_count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if status.Code(err) != tt.code {
				t.Fatalf("got %v, want %v", err, tt.code)
			}
			if tt.field != "" && !hasFieldViolation(err, tt.field) {
				t.Fatalf("%v does not name field %q in its BadRequest details", err, tt.field)
			}
		})
	}
	// Nothing was written: the only counter is the one created above, still at MaxInt64.
	list, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{View: tallyv1.CounterView_COUNTER_VIEW_FULL})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetCounters()) != 1 || list.GetCounters()[0].GetValue() != math.MaxInt64 {
		t.Fatalf("counters after bad inputs: %v", list.GetCounters())
	}
}

func inc(c tallyv1.CounterServiceClient, name string, delta int64) func() error {
	return func() error {
		_, err := c.Increment(context.Background(), &tallyv1.IncrementRequest{Name: name, Delta: delta})
		return err
	}
}

// rawIncrement sends an IncrementRequest encoded by hand, as any client may: the bytes do not
// depend on a generated API (one built from a proto3 copy of the API would refuse to encode a
// string that is not valid UTF-8).
func rawIncrement(addr, name string, delta int64) error {
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendString(req, name)
	req = protowire.AppendTag(req, 2, protowire.VarintType)
	req = protowire.AppendVarint(req, uint64(delta))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	var resp []byte
	return conn.Invoke(context.Background(), "/tally.v1.CounterService/Increment", req, &resp, grpc.ForceCodecV2(rawCodec{}))
}

// rawCodec sends and receives messages as already-encoded bytes.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func hasFieldViolation(err error, field string) bool {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "")
	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	for _, service := range []string{"", "tally.v1.CounterService"} {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v", service, resp, err)
		}
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), "tally.v1.CounterService") {
		t.Fatalf("reflection lists %v, not tally.v1.CounterService", names)
	}
}

// TestGracefulShutdownFinishesInFlightIncrements stops the server while clients increment: every
// increment acknowledged before the stop must be there after a restart on the same data.
func TestGracefulShutdownFinishesInFlightIncrements(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startTallyd(t, dir)
	c := dial(t, srv.addr)
	var acked atomic.Int64
	started := make(chan struct{}, 64)
	load := testload.Start(32, func(int) bool {
		_, err := c.Increment(context.Background(), &tallyv1.IncrementRequest{Name: "counters/g", Delta: 1})
		if err != nil {
			return false // the server went away
		}
		acked.Add(1)
		select {
		case started <- struct{}{}:
		default:
		}
		return true
	})
	for range 64 {
		<-started
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-load.Done() // every client has met the stopped server
	again := startTallyd(t, dir)
	if got := value(t, dial(t, again.addr), "g"); got != acked.Load() {
		t.Fatalf("after restart: value %d, acknowledged %d", got, acked.Load())
	}
}
