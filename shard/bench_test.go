package shard_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// BenchmarkIncrement measures the sharding core alone: 64 goroutines increment one counter
// through shard.Counters (no front gRPC hop) on a durable emulator over loopback gRPC. Compare with
// cmd/tallyd's BenchmarkIncrementHotCounter to see what the API hop costs.
func BenchmarkIncrement(b *testing.B) {
	for _, keys := range []bool{false, true} {
		b.Run(fmt.Sprintf("goroutines=64/keys=%v", keys), func(b *testing.B) {
			opts := emulator.Options{DataDir: b.TempDir()}
			if os.Getenv("BENCH_IN_MEMORY") != "" {
				opts = emulator.Options{InMemory: true}
			}
			em := emulatortest.Start(b, opts)
			sopts := shard.Options{}
			if os.Getenv("BENCH_DEBUG") != "" {
				sopts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			s := storeOn(b, em, sopts)
			ctx := context.Background()
			if _, err := s.Increment(ctx, "hot", 1, ""); err != nil {
				b.Fatal(err)
			}
			before := s.Stats()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						key := ""
						if keys {
							key = fmt.Sprintf("g%d-%d", g, n)
						}
						if _, err := s.Increment(ctx, "hot", 1, key); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			after := s.Stats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "increments/s")
			b.ReportMetric(float64(after.Increments-before.Increments)/float64(after.Commits-before.Commits), "increments/commit")
		})
	}
}
