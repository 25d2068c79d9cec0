package emulator_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
)

// The Listen benchmarks attach raw Listen streams over one loopback connection, as one client
// process would, and commit with raw Commit calls.

// benchListeners opens n streams with target(i) each and reads them until ctx ends, calling
// onChange for every document change a stream receives. It returns once every stream is
// current.
func benchListeners(b *testing.B, ctx context.Context, conn *grpc.ClientConn, n int, target func(i int) *pb.Target, onChange func(i int, d *pb.Document, at time.Time)) {
	b.Helper()
	client := pb.NewFirestoreClient(conn)
	ctx = metadata.AppendToOutgoingContext(ctx, "google-cloud-resource-prefix", testDB)
	ready := make(chan error, n)
	for i := range n {
		lc, err := client.Listen(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := lc.Send(&pb.ListenRequest{Database: testDB, TargetChange: &pb.ListenRequest_AddTarget{AddTarget: target(i)}}); err != nil {
			b.Fatal(err)
		}
		go func() {
			current := false
			for {
				r, err := lc.Recv()
				if err != nil {
					if !current {
						ready <- err
					}
					return
				}
				now := time.Now()
				if d := r.GetDocumentChange(); d != nil && current {
					onChange(i, d.GetDocument(), now)
				}
				if tc := r.GetTargetChange(); !current && tc != nil && tc.GetTargetChangeType() == pb.TargetChange_NO_CHANGE && len(tc.GetTargetIds()) == 0 {
					current = true
					ready <- nil
				}
			}
		}()
	}
	for range n {
		if err := <-ready; err != nil {
			b.Fatal(err)
		}
	}
}

func benchConn(b *testing.B, em *emulator.Emulator) *grpc.ClientConn {
	conn, err := grpc.NewClient(em.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return conn
}

func seqWrite(path string, seq int64) *pb.Write {
	return &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{
		Name: testRoot + "/" + path, Fields: map[string]*pb.Value{"seq": {ValueType: &pb.Value_IntegerValue{IntegerValue: seq}}}}}}
}

func collectionQuery(id int32, coll string) *pb.Target {
	return queryTarget(id, &pb.StructuredQuery{From: []*pb.StructuredQuery_CollectionSelector{{CollectionId: coll}}})
}

// BenchmarkListenFanOut commits to one collection that 1,000 listeners watch: every commit is a
// change for every listener. It reports the changes delivered per second, counted at the
// listeners, from the first commit until every listener has the last one. A listener that
// falls behind is sent the newest state instead of every change, so changes/s can be lower than
// commits/s × 1,000.
//
// The listeners share one connection (one client process) or spread over ten (ten processes).
func BenchmarkListenFanOut(b *testing.B) {
	for _, conns := range []int{1, 10} {
		b.Run(fmt.Sprintf("connections=%d", conns), func(b *testing.B) { benchmarkListenFanOut(b, conns) })
	}
}

func benchmarkListenFanOut(b *testing.B, conns int) {
	const listeners, docs, committers = 1000, 10, 4
	em := emulatortest.Start(b, emulator.Options{})
	raw := pb.NewFirestoreClient(benchConn(b, em))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var delivered atomic.Int64
	var finished sync.WaitGroup
	finished.Add(listeners)
	last := int64(-1)
	for range conns {
		benchListeners(b, ctx, benchConn(b, em), listeners/conns, func(i int) *pb.Target { return collectionQuery(1, "fan") }, func(i int, d *pb.Document, _ time.Time) {
			delivered.Add(1)
			if d.GetFields()["seq"].GetIntegerValue() == last {
				finished.Done()
			}
		})
	}
	runtime.GC() // not the setup's garbage
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, err := raw.Commit(ctx, &pb.CommitRequest{Database: testDB, Writes: []*pb.Write{seqWrite(fmt.Sprintf("fan/d%d", i%docs), i)}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The marker comes after every other commit; a listener that has it has the rest.
	if _, err := raw.Commit(ctx, &pb.CommitRequest{Database: testDB, Writes: []*pb.Write{seqWrite("fan/end", last)}}); err != nil {
		b.Fatal(err)
	}
	finished.Wait()
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(delivered.Load())/secs, "changes/s")
	b.ReportMetric(float64(b.N)/secs, "commits/s")
}

// BenchmarkListenLatency commits one change at a time and measures, for every listener, the
// time from issuing the Commit to receiving the change: p50 and p99 over all listeners and
// commits. Commit's own round trip is reported for comparison.
func BenchmarkListenLatency(b *testing.B) {
	for _, listeners := range []int{1, 1000} {
		b.Run(fmt.Sprintf("listeners=%d", listeners), func(b *testing.B) { benchmarkListenLatency(b, listeners) })
	}
}

func benchmarkListenLatency(b *testing.B, listeners int) {
	em := emulatortest.Start(b, emulator.Options{})
	conn := benchConn(b, em)
	raw := pb.NewFirestoreClient(benchConn(b, em))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	issued := make([]time.Time, b.N)
	var mu sync.Mutex
	var samples []time.Duration
	var got atomic.Int64
	all := make(chan struct{}, 1)
	benchListeners(b, ctx, conn, listeners, func(i int) *pb.Target { return docTarget(1, "lat/d") }, func(i int, d *pb.Document, at time.Time) {
		seq := d.GetFields()["seq"].GetIntegerValue()
		mu.Lock()
		samples = append(samples, at.Sub(issued[seq]))
		mu.Unlock()
		if got.Add(1) == int64(listeners) {
			all <- struct{}{}
		}
	})
	commits := make([]time.Duration, 0, b.N)
	runtime.GC() // not the setup's garbage
	b.ResetTimer()
	for i := range b.N {
		got.Store(0)
		mu.Lock()
		issued[i] = time.Now()
		mu.Unlock()
		if _, err := raw.Commit(ctx, &pb.CommitRequest{Database: testDB, Writes: []*pb.Write{seqWrite("lat/d", int64(i))}}); err != nil {
			b.Fatal(err)
		}
		commits = append(commits, time.Since(issued[i]))
		<-all
	}
	b.StopTimer()
	slices.Sort(samples)
	slices.Sort(commits)
	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(samples, 0.50), "p50-ms")
	b.ReportMetric(pct(samples, 0.99), "p99-ms")
	b.ReportMetric(pct(commits, 0.50), "commit-p50-ms")
}

// BenchmarkCommitWithListeners measures commit throughput from 16 clients with no listener,
// with 1,000 listeners on the collection written to (every commit goes to all of them), and
// with 1,000 listeners on documents never written (the commits only pass the index).
func BenchmarkCommitWithListeners(b *testing.B) {
	for _, durable := range []bool{false, true} {
		for _, mode := range []string{"none", "1000-concerned", "1000-elsewhere"} {
			name := fmt.Sprintf("storage=%s/listeners=%s", map[bool]string{false: "memory", true: "disk"}[durable], mode)
			b.Run(name, func(b *testing.B) { benchmarkCommitWithListeners(b, durable, mode) })
		}
	}
}

func benchmarkCommitWithListeners(b *testing.B, durable bool, mode string) {
	const committers, listeners, docs = 16, 1000, 64
	opts := emulator.Options{}
	if durable {
		opts.DataDir = b.TempDir()
	}
	em := emulatortest.Start(b, opts)
	raw := pb.NewFirestoreClient(benchConn(b, em))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	switch mode {
	case "1000-concerned":
		benchListeners(b, ctx, benchConn(b, em), listeners, func(i int) *pb.Target { return collectionQuery(1, "w") }, func(int, *pb.Document, time.Time) {})
	case "1000-elsewhere":
		benchListeners(b, ctx, benchConn(b, em), listeners, func(i int) *pb.Target { return docTarget(1, fmt.Sprintf("elsewhere/d%d", i)) }, func(int, *pb.Document, time.Time) {})
	}
	runtime.GC() // not the setup's garbage
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, err := raw.Commit(ctx, &pb.CommitRequest{Database: testDB, Writes: []*pb.Write{seqWrite(fmt.Sprintf("w/d%d", i%docs), i)}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
