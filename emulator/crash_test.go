package emulator_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/internal/testload"
	"github.com/tally-dev/tally/internal/testproc"
)

// TestCrashKeepsAcknowledgedWrites runs the emulator binary as a separate process, SIGKILLs it at
// random moments while writers commit increments, restarts it on the same data directory, and
// checks every document: acknowledged increments ≤ value ≤ sent increments. The writers use the
// raw generated client, which never retries, so "sent" is exact.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and repeatedly kills the emulator binary")
	}
	t.Parallel()
	bin := testproc.Build(t, testproc.Emulator)[0]
	dataDir := t.TempDir()
	addr := testproc.FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)

	const writers, docs, kills = 8, 16, 5
	proc := testproc.StartEmulator(t, bin, "--host", host, "--port", port, "--data-dir", dataDir)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewFirestoreClient(conn)
	db := "projects/crash/databases/(default)"
	docName := func(i int) string { return fmt.Sprintf("%s/documents/counters/c%02d", db, i) }

	var sent, acked [docs]atomic.Int64
	acks := make(chan struct{}, 1<<16)
	// Canceled at the end, so that a commit waiting for the emulator to come back gives up.
	ctx, cancel := context.WithCancel(context.Background())
	rngs := make([]*rand.Rand, writers)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 42))
	}
	load := testload.Start(writers, func(w int) bool {
		d := rngs[w].IntN(docs)
		sent[d].Add(1)
		_, err := client.Commit(ctx, &pb.CommitRequest{Database: db, Writes: []*pb.Write{incrementWrite(docName(d))}},
			grpc.WaitForReady(true))
		if err == nil {
			acked[d].Add(1)
			select {
			case acks <- struct{}{}:
			default:
			}
		}
		return ctx.Err() == nil
	})

	// awaitAcks waits for n further acknowledgements, so that kills land mid-stream.
	awaitAcks := func(n int) {
		for range n {
			select {
			case <-acks:
			case <-proc.Exited():
				t.Fatalf("emulator exited on its own: %v", proc.Err())
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range kills {
		awaitAcks(100 + rng.IntN(900))
		proc = proc.Restart(t) // SIGKILLed, and started again on its address and data
	}
	awaitAcks(200)
	cancel()
	load.Stop()

	var sumSent, sumAcked, sum int64
	for d := range docs {
		resp, err := client.GetDocument(context.Background(), &pb.GetDocumentRequest{Name: docName(d)}, grpc.WaitForReady(true))
		var v int64
		if err == nil {
			v = resp.GetFields()["n"].GetIntegerValue()
		} else if acked[d].Load() > 0 {
			t.Fatalf("document %d: %v", d, err)
		}
		if v < acked[d].Load() || v > sent[d].Load() {
			t.Errorf("document %d: value %d, acknowledged %d, sent %d", d, v, acked[d].Load(), sent[d].Load())
		}
		sumSent += sent[d].Load()
		sumAcked += acked[d].Load()
		sum += v
	}
	t.Logf("%d kills: sent %d, acknowledged %d, stored %d", kills, sumSent, sumAcked, sum)
	_ = proc.Kill()
	checkStorage(t, dataDir)
}

// checkStorage runs the storage consistency check on the data directory of an emulator that
// was SIGKILLed: what a restart recovers must keep every invariant of the on-disk format.
func checkStorage(t *testing.T, dataDir string) {
	t.Helper()
	s, err := storage.Open(storage.Options{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("storage after the crashes: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func incrementWrite(name string) *pb.Write {
	return &pb.Write{
		Operation: &pb.Write_Transform{Transform: &pb.DocumentTransform{
			Document: name,
			FieldTransforms: []*pb.DocumentTransform_FieldTransform{{
				FieldPath:     "n",
				TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: 1}}},
			}},
		}},
	}
}
