package client_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/client"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// laggingReplicas answers WatchCounter as two replicas behind a load balancer would: the first
// stream (one replica) reports the counter at t2 and breaks; the second (another replica, whose
// listeners lag) starts with the counter at t1 < t2, then catches up at t3.
type laggingReplicas struct {
	tallyv1.UnimplementedCounterServiceServer
	streams atomic.Int32
	base    time.Time
}

func (s *laggingReplicas) WatchCounter(_ *tallyv1.WatchCounterRequest, stream grpc.ServerStreamingServer[tallyv1.WatchCounterResponse]) error {
	at := func(sec int, v int64) *tallyv1.WatchCounterResponse {
		return &tallyv1.WatchCounterResponse{Counter: &tallyv1.Counter{Name: "counters/c", Value: v, ReadTime: timestamppb.New(s.base.Add(time.Duration(sec) * time.Second))}}
	}
	if s.streams.Add(1) == 1 {
		if err := stream.Send(at(2, 5)); err != nil {
			return err
		}
		return status.Error(codes.Unavailable, "replica going away")
	}
	for _, r := range []*tallyv1.WatchCounterResponse{at(1, 3), at(3, 6)} {
		if err := stream.Send(r); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}

// TestWatchNeverGoesBackAfterReconnect: after a reconnect the watch must not report, as a
// new update, a state older than one it already reported (the value would go back in time).
func TestWatchNeverGoesBackAfterReconnect(t *testing.T) {
	t.Parallel()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	tallyv1.RegisterCounterServiceServer(gs, &laggingReplicas{base: time.Now().Add(-time.Minute)})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := client.New(ctx, "passthrough:///bufnet", fastRetry, client.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	var last time.Time
	for u, err := range cl.Watch(ctx, "c") {
		if err != nil {
			t.Fatal(err)
		}
		if u.Counter.ReadTime.Before(last) {
			t.Fatalf("update with value %d read at %v follows one read at %v: a stale state reported as new", u.Counter.Value, u.Counter.ReadTime, last)
		}
		last = u.Counter.ReadTime
		if u.Counter.Value == 6 {
			return
		}
	}
}
