package index

import (
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// TestReviewAutomaticIndexesServe guards against false FAILED_PRECONDITION answers: queries that
// production serves with its automatic single-field indexes alone (collection scope, ascending,
// descending and array-contains for every field, and merging of single-field indexes for
// equalities) must pass with an empty declaration.
func TestReviewAutomaticIndexesServe(t *testing.T) {
	t.Parallel()
	ne := func(f string) *pb.StructuredQuery_Filter { return field(f, pb.StructuredQuery_FieldFilter_NOT_EQUAL) }
	in := func(f string) *pb.StructuredQuery_Filter { return field(f, pb.StructuredQuery_FieldFilter_IN) }
	notIn := func(f string) *pb.StructuredQuery_Filter { return field(f, pb.StructuredQuery_FieldFilter_NOT_IN) }
	lt := func(f string) *pb.StructuredQuery_Filter { return field(f, pb.StructuredQuery_FieldFilter_LESS_THAN) }
	anyOf := func(f string) *pb.StructuredQuery_Filter {
		return field(f, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY)
	}
	tests := []struct {
		name string
		q    *pb.StructuredQuery
		aggs []*pb.StructuredAggregationQuery_Aggregation
	}{
		{"not-equal alone", from("x", false, where(ne("a"))), nil},
		{"not-in alone", from("x", false, where(notIn("a"))), nil},
		{"is-not-null alone", from("x", false, where(unary("a", pb.StructuredQuery_UnaryFilter_IS_NOT_NULL))), nil},
		{"a range on one field", from("x", false, where(gt("a"), lt("a"))), nil},
		{"a range ordered descending (limit-to-last as sent)", from("x", false, where(gt("a")), orderBy("a", true)), nil},
		{"in and array-contains merge", from("x", false, where(in("a"), contains("tags"))), nil},
		{"array-contains-any and equality merge", from("x", false, where(anyOf("tags"), eq("a"))), nil},
		{"equalities ordered by name", from("x", false, where(eq("a"), eq("b")), orderBy("__name__", false)), nil},
		{"equality ordered by name descending", from("x", false, where(eq("a")), orderBy("__name__", true)), nil},
		{"or of equalities and array-contains", from("x", false, where(or(eq("a"), contains("tags"), in("b")))), nil},
		{"name range alone", from("x", false, where(gt("__name__"))), nil},
		{"collection group name range (partitions)", from("x", true, where(gt("__name__"), lt("__name__")), orderBy("__name__", false)), nil},
		{"count with equalities", from("x", false, where(eq("a"), eq("b"))), []*pb.StructuredAggregationQuery_Aggregation{count()}},
		{"sum with a range on the same field", from("x", false, where(gt("n"))), []*pb.StructuredAggregationQuery_Aggregation{sum("n"), avg("n")}},
		{"a map subfield", from("x", false, where(eq("m.k")), orderBy("m.k", true)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := New(nil).Check(tt.q, tt.aggs); err != nil {
				t.Fatalf("Check with the automatic indexes only: %v", err)
			}
		})
	}
}
