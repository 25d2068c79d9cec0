package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testload"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestOverloadShedsAndCountsExactly overloads tallyd: many more callers than
// --max-concurrent-calls increment one counter. Some calls are refused with RESOURCE_EXHAUSTED,
// none fails otherwise, health still answers, and the counter holds exactly the successful
// increments: a shed call was never applied. The scrape of /metrics counts every refusal the
// clients saw as shed for the concurrency limit, and none for a full queue.
func TestOverloadShedsAndCountsExactly(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "", "--max-concurrent-calls", "4", "--admin-addr", "127.0.0.1:0")
	const connections, callers = 4, 64
	conns := make([]tallyv1.CounterServiceClient, connections)
	for i := range conns {
		conns[i] = dial(t, srv.addr)
	}
	// The load runs until it has both outcomes often enough to show them, or gives up.
	const wantEach = 200
	deadline := time.Now().Add(60 * time.Second)
	var succeeded, shed atomic.Int64
	load := testload.Start(callers, func(caller int) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := conns[caller%connections].Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/overload", Delta: 1})
		cancel()
		switch status.Code(err) {
		case codes.OK:
			succeeded.Add(1)
		case codes.ResourceExhausted:
			shed.Add(1)
		default:
			t.Errorf("an increment under overload: %v", err)
			return false
		}
		return time.Now().Before(deadline) && (succeeded.Load() < wantEach || shed.Load() < wantEach)
	})

	// Health is exempt from the limit, so it answers under overload.
	health := healthpb.NewHealthClient(dialConn(t, srv.addr))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check under overload: %v, %v", resp, err)
	}

	<-load.Done()
	t.Logf("%d increments succeeded, %d were shed", succeeded.Load(), shed.Load())
	if shed.Load() == 0 {
		t.Fatal("no call was shed with 64 callers and a limit of 4")
	}
	if succeeded.Load() == 0 {
		t.Fatal("no call succeeded")
	}
	if got := value(t, conns[0], "overload"); got != succeeded.Load() {
		t.Fatalf("value %d, but %d increments succeeded (%d shed)", got, succeeded.Load(), shed.Load())
	}
	// Every call has been answered, so every refusal has been counted.
	metrics := scrape(t, srv.admin)
	if got := counterValue(metrics, "tally_calls_shed_total", map[string]string{"reason": "concurrency_limit"}); got != float64(shed.Load()) {
		t.Errorf(`tally_calls_shed_total{reason="concurrency_limit"} = %v, but the clients saw %d calls shed`, got, shed.Load())
	}
	if got := counterValue(metrics, "tally_calls_shed_total", map[string]string{"reason": "queue_full"}); got != 0 {
		t.Errorf(`tally_calls_shed_total{reason="queue_full"} = %v, want 0: no queue filled behind a limit of 4 calls`, got)
	}
}
