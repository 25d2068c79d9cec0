package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// BenchmarkIncrementHotCounter measures Increment through gRPC on one counter from 64 concurrent
// clients, over one shared connection or a connection each, against tallyd with its default durable embedded storage: every
// acknowledged increment has been fsynced. With keys, every request carries a fresh idempotency
// key, so each also writes an idempotency record. The no-op variant calls the health check
// instead: the ceiling of a bare gRPC call in the same harness.
func BenchmarkIncrementHotCounter(b *testing.B) {
	for _, conns := range []int{1, 64} {
		for _, mode := range []string{"no-op", "without-keys", "with-keys"} {
			b.Run(fmt.Sprintf("clients=64/connections=%d/%s", conns, mode), func(b *testing.B) { benchmarkIncrement(b, 64, conns, mode) })
		}
	}
}

// benchmarkIncrement runs clients concurrent callers over the given number of connections (a
// load generator typically multiplexes its callers over one connection).
func benchmarkIncrement(b *testing.B, clients, connections int, mode string) {
	benchmarkIncrementOn(b, startTallyd(b, "", strings.Fields(os.Getenv("TALLYD_BENCH_ARGS"))...), clients, connections, mode)
}

// benchmarkIncrementOn is benchmarkIncrement against a tallyd the caller started.
func benchmarkIncrementOn(b *testing.B, srv *tallyd, clients, connections int, mode string) {
	conns := make([]*grpc.ClientConn, connections)
	for i := range conns {
		conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		conns[i] = conn
	}
	ctx := context.Background()
	// Warm up: create the counter and the connections.
	for _, conn := range conns {
		if _, err := tallyv1.NewCounterServiceClient(conn).Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	cpuBefore := processCPU(b)
	for i := range clients {
		conn := conns[i%connections]
		wg.Add(1)
		go func() {
			defer wg.Done()
			counters := tallyv1.NewCounterServiceClient(conn)
			health := healthpb.NewHealthClient(conn)
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				var err error
				switch mode {
				case "no-op":
					_, err = health.Check(ctx, &healthpb.HealthCheckRequest{})
				case "without-keys":
					_, err = counters.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1})
				default:
					_, err = counters.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1, IdempotencyKey: fmt.Sprintf("c%d-%d", i, n)})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := processCPU(b) - cpuBefore
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	// CPU per call (user + system, client and server together) is steadier than throughput on a
	// shared VM, and says what an optimisation saved.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
}

// processCPU is the CPU time (user + system) the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
