package query

import (
	"context"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
)

func benchmarkQuery(b *testing.B, sq *pb.StructuredQuery, docs int) {
	src := bigSource(docs)
	sq.From = from("c")
	q, err := Compile(testDB, nil, sq)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Run(context.Background(), src, func(*storage.Version) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNameScan is the streaming plan over every document: its allocations do not grow
// with the number of documents.
func BenchmarkNameScan(b *testing.B) {
	benchmarkQuery(b, &pb.StructuredQuery{Where: where("n", opEQ, iv(7))}, 100_000)
}

// BenchmarkTopK keeps the best 10 of 100,000 documents ordered by a field.
func BenchmarkTopK(b *testing.B) {
	benchmarkQuery(b, &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{desc("n")}, Limit: limit(10)}, 100_000)
}

// BenchmarkSorted sorts the keys of 100,000 documents and fetches each one again.
func BenchmarkSorted(b *testing.B) {
	benchmarkQuery(b, &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{desc("n")}}, 100_000)
}

func BenchmarkCountUpTo(b *testing.B) {
	src := bigSource(100_000)
	a, err := CompileAggregation(testDB, nil, aggregation(&pb.StructuredQuery{From: from("c")}, countUpTo("n", 1000), sum("s", "n")))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Run(context.Background(), src); err != nil {
			b.Fatal(err)
		}
	}
}
