package main

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// BenchmarkWatchCounterStreams: 1,000 WatchCounter streams of one counter through tallyd (durable
// embedded storage), over four connections, each read by a goroutine of its own and asking for
// the minimum interval, so that no update waits for coalescing. Each iteration
// increments the counter once and waits until every stream has received the new value. Reports
// the increment-to-update latency over all streams (p50, p99: from the start of the Increment
// call to the stream's Recv returning) and the memory each open stream adds to the process,
// client and server sides together (they share it), the readers' goroutines excepted.
func BenchmarkWatchCounterStreams(b *testing.B) {
	const streams, connections = 1000, 4
	srv := startTallyd(b, "", "--min-watch-interval=1ms")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var clients []tallyv1.CounterServiceClient
	for range connections {
		conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		clients = append(clients, tallyv1.NewCounterServiceClient(conn))
	}
	c := clients[0]
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "hot"}); err != nil {
		b.Fatal(err)
	}

	before := processMemory()
	opened := make([]tallyv1.CounterService_WatchCounterClient, streams)
	for i := range opened {
		s, err := clients[i%connections].WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/hot", MinInterval: durationpb.New(time.Millisecond)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil { // the first update: the stream is open on both sides
			b.Fatal(err)
		}
		opened[i] = s
	}
	perStream := float64(processMemory()-before) / streams

	var (
		target  atomic.Int64
		pending atomic.Int64
		reached = make(chan struct{}, 1)
		mu      sync.Mutex // guards sentAt, latency
		sentAt  time.Time
		latency []time.Duration
	)
	for _, s := range opened {
		go func() {
			var reachedFor int64 = -1
			for {
				u, err := s.Recv()
				if err != nil {
					return
				}
				want := target.Load()
				if u.GetCounter().GetValue() < want || reachedFor == want {
					continue
				}
				reachedFor = want
				mu.Lock()
				latency = append(latency, time.Since(sentAt))
				mu.Unlock()
				if pending.Add(-1) == 0 {
					reached <- struct{}{}
				}
			}
		}()
	}
	b.ResetTimer()
	for i := range b.N {
		mu.Lock()
		sentAt = time.Now()
		mu.Unlock()
		pending.Store(streams)
		target.Store(int64(i + 1))
		if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1}); err != nil {
			b.Fatal(err)
		}
		<-reached
	}
	b.StopTimer()
	lat := slices.Sorted(slices.Values(latency))
	b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(perStream, "B/stream")
	b.ReportMetric(0, "ns/op")
}

// processMemory is the heap and the goroutine stacks in use after a collection.
func processMemory() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}
