package emulator_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
)

// BenchmarkCommitIncrement measures Commit with one increment transform over loopback gRPC, from
// 1 and 64 concurrent clients, durable (fsync before acknowledging) and in memory. Each client
// increments its own document; "hot" variants make all clients increment one document.
func BenchmarkCommitIncrement(b *testing.B) {
	for _, durable := range []bool{true, false} {
		for _, clients := range []int{1, 64} {
			for _, hot := range []bool{false, true} {
				if hot && clients == 1 {
					continue
				}
				name := fmt.Sprintf("storage=%s/clients=%d", map[bool]string{true: "disk", false: "memory"}[durable], clients)
				if hot {
					name += "/one-document"
				}
				b.Run(name, func(b *testing.B) { benchmarkCommit(b, durable, clients, hot) })
			}
		}
	}
}

func benchmarkCommit(b *testing.B, durable bool, clients int, hot bool) {
	opts := emulator.Options{}
	if durable {
		opts.DataDir = b.TempDir()
	}
	em := emulatortest.Start(b, opts)
	conn, err := grpc.NewClient(em.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	client := pb.NewFirestoreClient(conn)
	db := "projects/bench/databases/(default)"
	ctx := context.Background()

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf("%s/documents/bench/c%d", db, c)
			if hot {
				doc = db + "/documents/bench/hot"
			}
			req := &pb.CommitRequest{Database: db, Writes: []*pb.Write{incrementWrite(doc)}}
			for next.Add(1) <= int64(b.N) {
				if _, err := client.Commit(ctx, req); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
