package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// watchHarness is a Server over a real core on an emulator, reachable over real gRPC.
type watchHarness struct {
	wire  tallyv1.CounterServiceClient
	store *shard.Counters
}

func newWatchHarness(t *testing.T) *watchHarness {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{})
	store, err := shard.New(emulatortest.NewClient(t, em.Addr(), "service-test"),
		shard.Options{WatchInterval: time.Millisecond, MinWatchInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	return &watchHarness{wire: serve(t, New(Options{Counters: store})), store: store}
}

func watch(t *testing.T, ctx context.Context, c tallyv1.CounterServiceClient, req *tallyv1.WatchCounterRequest) (tallyv1.CounterService_WatchCounterClient, *tallyv1.WatchCounterResponse, error) {
	t.Helper()
	stream, err := c.WatchCounter(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	first, err := stream.Recv()
	return stream, first, err
}

// recvUntil receives updates until one satisfies done.
func recvUntil(t *testing.T, stream tallyv1.CounterService_WatchCounterClient, done func(*tallyv1.WatchCounterResponse) bool) *tallyv1.WatchCounterResponse {
	t.Helper()
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if done(resp) {
			return resp
		}
	}
}

// TestWatchCounterValidates: a malformed request is INVALID_ARGUMENT naming its field, before the
// core is asked.
func TestWatchCounterValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		req   *tallyv1.WatchCounterRequest
		field string
	}{
		{"no name", &tallyv1.WatchCounterRequest{}, "name"},
		{"not a counter's name", &tallyv1.WatchCounterRequest{Name: "a"}, "name"},
		{"malformed id", &tallyv1.WatchCounterRequest{Name: "counters/a/b"}, "name"},
		{"negative interval", &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: durationpb.New(-time.Second)}, "min_interval"},
		{"invalid duration", &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: &durationpb.Duration{Seconds: 1, Nanos: -1}}, "min_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t) // the mock expects no call
			_, _, err := watch(t, testContext(t), h.wire, tt.req)
			wantFieldViolation(t, err, tt.field)
		})
	}
}

// TestWatchCounterNeedsAWatcher: a counter store that cannot watch answers UNIMPLEMENTED.
func TestWatchCounterNeedsAWatcher(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, _, err := watch(t, testContext(t), h.wire, &tallyv1.WatchCounterRequest{Name: "counters/a"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("got %v, want Unimplemented", err)
	}
}

// TestWatchCounterStreams: the first update is the current value, changes follow, a delete is an
// update with only the name and read time, and the stream goes on to report the counter created
// anew. A counter that does not exist at the start is NOT_FOUND.
func TestWatchCounterStreams(t *testing.T) {
	t.Parallel()
	h := newWatchHarness(t)
	ctx := testContext(t)
	if _, _, err := watch(t, ctx, h.wire, &tallyv1.WatchCounterRequest{Name: "counters/missing"}); status.Code(err) != codes.NotFound {
		t.Fatalf("watching a counter that does not exist: %v, want NotFound", err)
	}
	if _, err := h.wire.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/c", Delta: 4}); err != nil {
		t.Fatal(err)
	}
	stream, first, err := watch(t, ctx, h.wire, &tallyv1.WatchCounterRequest{Name: "counters/c", MinInterval: durationpb.New(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.wire.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/c"})
	if err != nil {
		t.Fatal(err)
	}
	if first.GetDeleted() || first.GetCounter().GetValue() != 4 || first.GetCounter().GetShardCount() != got.GetShardCount() ||
		!first.GetCounter().GetCreateTime().AsTime().Equal(got.GetCreateTime().AsTime()) || first.GetCounter().GetReadTime() == nil {
		t.Fatalf("first update %v, want the counter %v with its read time", first, got)
	}
	if _, err := h.wire.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/c", Delta: 3}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, stream, func(r *tallyv1.WatchCounterResponse) bool { return r.GetCounter().GetValue() == 7 })
	if _, err := h.wire.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: "counters/c"}); err != nil {
		t.Fatal(err)
	}
	del := recvUntil(t, stream, func(r *tallyv1.WatchCounterResponse) bool { return r.GetDeleted() })
	if c := del.GetCounter(); c.GetName() != "counters/c" || c.GetReadTime() == nil || c.GetValue() != 0 || c.GetShardCount() != 0 || c.GetCreateTime() != nil {
		t.Fatalf("the delete's update holds %v, want only the name and read time", c)
	}
	if _, err := h.wire.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/c", Delta: 1}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, stream, func(r *tallyv1.WatchCounterResponse) bool { return !r.GetDeleted() && r.GetCounter().GetValue() == 1 })
}

// TestCanceledWatchReleasesItsListeners: when the client cancels its stream, the server's watch
// ends and the counter's listeners close; a closing store ends the streams with UNAVAILABLE.
func TestCanceledWatchReleasesItsListeners(t *testing.T) {
	t.Parallel()
	h := newWatchHarness(t)
	ctx := testContext(t)
	if _, err := h.store.Create(ctx, "c", 0); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	if _, _, err := watch(t, wctx, h.wire, &tallyv1.WatchCounterRequest{Name: "counters/c"}); err != nil {
		t.Fatal(err)
	}
	if got := h.store.WatchStats(); got.Watchers != 1 || got.Listeners != 2 {
		t.Fatalf("WatchStats %+v with one stream open", got)
	}
	cancel()
	// The server learns of the cancellation asynchronously, and nothing tells the client when
	// its handler has returned: poll, with a deadline.
	for got := h.store.WatchStats(); got.Watchers != 0 || got.Listeners != 0; got = h.store.WatchStats() {
		if ctx.Err() != nil {
			t.Fatalf("WatchStats %+v long after the stream was canceled, want none", got)
		}
		time.Sleep(time.Millisecond)
	}

	stream, _, err := watch(t, ctx, h.wire, &tallyv1.WatchCounterRequest{Name: "counters/c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := stream.Recv()
		if err == nil {
			continue // an update sent before the close
		}
		if status.Code(err) != codes.Unavailable || errors.Is(err, context.Canceled) {
			t.Fatalf("after the store closed: %v, want Unavailable", err)
		}
		break
	}
}

// TestWatchCounterPastTheServersLimit: a watch the core refuses for the number of counters
// watched is RESOURCE_EXHAUSTED.
func TestWatchCounterPastTheServersLimit(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	store, err := shard.New(emulatortest.NewClient(t, em.Addr(), "service-test"), shard.Options{MaxWatchedCounters: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	wire := serve(t, New(Options{Counters: store}))
	ctx := testContext(t)
	for _, id := range []string{"a", "b"} {
		if _, err := store.Create(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := watch(t, ctx, wire, &tallyv1.WatchCounterRequest{Name: "counters/a"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := watch(t, ctx, wire, &tallyv1.WatchCounterRequest{Name: "counters/b"}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a second counter past the limit of one: %v, want ResourceExhausted", err)
	}
}
