package emulator_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestQueryOver100000DocumentsStreams runs one query over 100,000 documents through the gRPC
// server and checks that the heap never grows by anything near the result's size: results are
// streamed from storage to the wire, not collected first.
func TestQueryOver100000DocumentsStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 documents")
	}
	// Not parallel: it measures the heap of the whole test process.
	em := startEmulator(t)
	conn, err := grpc.NewClient(em.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewFirestoreClient(conn)
	ctx := context.Background()
	db := "projects/stream/databases/(default)"
	const docs, perCommit = 100_000, 2_000
	payload := &pb.Value{ValueType: &pb.Value_StringValue{StringValue: fmt.Sprintf("%0200d", 0)}}
	for start := 0; start < docs; start += perCommit {
		req := &pb.CommitRequest{Database: db}
		for i := start; i < start+perCommit; i++ {
			req.Writes = append(req.Writes, &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{
				Name:   fmt.Sprintf("%s/documents/big/d%06d", db, i),
				Fields: map[string]*pb.Value{"payload": payload, "i": {ValueType: &pb.Value_IntegerValue{IntegerValue: int64(i)}}},
			}}})
		}
		if _, err := client.Commit(ctx, req); err != nil {
			t.Fatal(err)
		}
	}

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	stream, err := client.RunQuery(ctx, &pb.RunQueryRequest{
		Parent:    db + "/documents",
		QueryType: &pb.RunQueryRequest_StructuredQuery{StructuredQuery: &pb.StructuredQuery{From: []*pb.StructuredQuery_CollectionSelector{{CollectionId: "big"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var peak uint64
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetDocument() != nil {
			got++
			if got%10_000 == 0 {
				peak = max(peak, heap())
			}
		}
	}
	if got != docs {
		t.Fatalf("%d documents, want %d", got, docs)
	}
	// The result is over 20 MB on the wire and several times that as Go values.
	growth := int64(peak) - int64(base)
	t.Logf("heap grew by at most %.1f MB while streaming %d documents", float64(growth)/(1<<20), docs)
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d bytes while streaming: results are being collected", growth)
	}
}
