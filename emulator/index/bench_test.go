package index

import (
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// BenchmarkCheck measures the check every query pays when index checks are on: tally's value
// read (an equality and a sum, served by a composite index) and an OR of two branches.
func BenchmarkCheck(b *testing.B) {
	f, err := Parse([]byte(declaration))
	if err != nil {
		b.Fatal(err)
	}
	set := New(f)
	cases := []struct {
		name string
		q    *pb.StructuredQuery
		aggs []*pb.StructuredAggregationQuery_Aggregation
	}{
		{"sum-by-equality", from("items", false, where(eq("g"))), []*pb.StructuredAggregationQuery_Aggregation{sum("n")}},
		{"or-with-order", from("items", false, where(or(eq("a"), eq("tags"))), orderBy("b", false)), nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := set.Check(c.q, c.aggs); err != nil && c.name == "sum-by-equality" {
					b.Fatal(err)
				}
			}
		})
	}
}
