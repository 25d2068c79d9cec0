package index

import (
	"errors"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// FuzzCheck feeds arbitrary aggregation queries (unvalidated, as a fuzzer makes them) to Check:
// it must not panic, and a suggested index or override, once declared, must serve the query.
func FuzzCheck(f *testing.F) {
	seeds := []*pb.StructuredAggregationQuery{
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", false, where(eq("a")), orderBy("z", false))}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", true, where(or(eq("a"), gt("b"))), orderBy("c", true))},
			Aggregations: []*pb.StructuredAggregationQuery_Aggregation{sum("n"), avg("m"), count()}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("docs", false, where(eq("color"), contains("tags")), nearest("embedding", 3))}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", false, where(eq("m.x"), eq("m.`x`")), orderBy("secret", false))}},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	decl, err := Parse([]byte(declaration))
	if err != nil {
		f.Fatal(err)
	}
	set := New(decl)
	f.Fuzz(func(t *testing.T, b []byte) {
		var q pb.StructuredAggregationQuery
		if proto.Unmarshal(b, &q) != nil {
			return
		}
		sq, aggs := q.GetStructuredQuery(), q.GetAggregations()
		err := set.Check(sq, aggs)
		var missing *MissingIndexError
		if err == nil || !errors.As(err, &missing) {
			return
		}
		_ = err.Error()
		g := *decl
		if missing.Index != nil {
			g.Indexes = append(append([]Index{}, decl.Indexes...), *missing.Index)
		} else {
			g.FieldOverrides = nil
			for _, o := range decl.FieldOverrides {
				if o.CollectionGroup != missing.Override.CollectionGroup || canonical(o.FieldPath) != missing.Override.FieldPath {
					g.FieldOverrides = append(g.FieldOverrides, o)
				}
			}
			g.FieldOverrides = append(g.FieldOverrides, *missing.Override)
		}
		if g.Validate() != nil {
			return // a suggestion for an invalid query (a bad field path, say) need not be valid
		}
		// The suggestion serves the branch it was made for; another branch may need more.
		if err2 := New(&g).Check(sq, aggs); err2 != nil && err2.Error() == err.Error() {
			t.Fatalf("the suggestion does not serve the query:\n%v\nquery %v", err, &q)
		}
	})
}
