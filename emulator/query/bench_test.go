package query

import (
	"context"
	"fmt"
	"math"
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

// BenchmarkSumDoubles sums and averages 100,000 doubles of every magnitude exactly.
func BenchmarkSumDoubles(b *testing.B) {
	docs := make([]*storage.Version, 100_000)
	for i := range docs {
		docs[i] = doc(fmt.Sprintf("c/d%06d", i), F{"x": dv(float64(i%1000) * math.Pow(10, float64(i%40-20)))})
	}
	src := newSource(docs...)
	a, err := CompileAggregation(testDB, nil, aggregation(&pb.StructuredQuery{From: from("c")}, sum("s", "x"), avg("a", "x")))
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

// BenchmarkFindNearest searches 100,000 documents with 64-dimensional vectors for the nearest 10.
func BenchmarkFindNearest(b *testing.B) {
	docs := make([]*storage.Version, 100_000)
	for i := range docs {
		xs := make([]float64, 64)
		for j := range xs {
			xs[j] = float64((i*31+j*17)%97) / 97
		}
		docs[i] = doc(fmt.Sprintf("c/d%06d", i), F{"v": vecv(xs...)})
	}
	src := newSource(docs...)
	target := make([]float64, 64)
	for j := range target {
		target[j] = 0.5
	}
	q, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), FindNearest: findNearest("v", vecv(target...), euclidean, 10)})
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
