package query

import (
	"errors"
	"fmt"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// manyValues returns n distinct integer values.
func manyValues(n int) []*pb.Value {
	vs := make([]*pb.Value, n)
	for i := range vs {
		vs[i] = iv(int64(i))
	}
	return vs
}

func TestCompileErrors(t *testing.T) {
	otherDB := &pb.Value{ValueType: &pb.Value_ReferenceValue{ReferenceValue: "projects/p/databases/other/documents/c/a"}}
	relative := &pb.Value{ValueType: &pb.Value_ReferenceValue{ReferenceValue: "c/a"}}
	eleven := make([]*pb.StructuredQuery_Filter, 11)
	for i := range eleven {
		eleven[i] = where(fmt.Sprintf("f%d", i), opGT, iv(0))
	}
	fifty := make([]*pb.StructuredQuery_Filter, 98)
	for i := range fifty {
		fifty[i] = where(fmt.Sprintf("f%d", i), opEQ, iv(0))
	}
	tests := []struct {
		name   string
		parent string
		sq     *pb.StructuredQuery
		want   string
	}{
		{"no query", "", nil, "a structured query is required"},
		{"parent is a collection", "c", &pb.StructuredQuery{From: from("c")},
			`parent must be the documents root or a document, not the 1-segment path "projects/p/databases/d/documents/c"`},
		{"empty find nearest", "", &pb.StructuredQuery{From: from("c"), FindNearest: &pb.StructuredQuery_FindNearest{}},
			"find_nearest.vector_field: a field path is required"},
		{"no collection", "", &pb.StructuredQuery{}, "from must name exactly one collection, got 0 collection selectors"},
		{"two collections", "", &pb.StructuredQuery{From: append(from("a"), from("b")...)}, "from must name exactly one collection, got 2 collection selectors"},
		{"empty collection id", "", &pb.StructuredQuery{From: from("")}, "from[0].collection_id: collection id must not be empty"},
		{"reserved collection id", "", &pb.StructuredQuery{From: from("__x__")}, `from[0].collection_id: collection id "__x__" is reserved: ids of the form __.*__ are not allowed`},
		{"empty filter", "", &pb.StructuredQuery{From: from("c"), Where: &pb.StructuredQuery_Filter{}},
			"where: a filter needs one of composite_filter, field_filter or unary_filter"},
		{"composite without operator", "", &pb.StructuredQuery{From: from("c"), Where: composite(pb.StructuredQuery_CompositeFilter_OPERATOR_UNSPECIFIED, where("a", opEQ, iv(1)))},
			"where.composite_filter.op: must be AND or OR, got OPERATOR_UNSPECIFIED"},
		{"empty composite", "", &pb.StructuredQuery{From: from("c"), Where: and()},
			"where.composite_filter.filters: a composite filter needs at least one filter"},
		{"nested error names its place", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opEQ, iv(1)), or(where("b", opEQ, iv(1)), where("", opEQ, iv(1))))},
			"where.composite_filter.filters[1].composite_filter.filters[1].field_filter.field: a field path is required"},
		{"bad field path", "", &pb.StructuredQuery{From: from("c"), Where: where("a..b", opEQ, iv(1))},
			`where.field_filter.field: invalid field path "a..b": segment 2 is empty`},
		{"no operator", "", &pb.StructuredQuery{From: from("c"), Where: where("a", pb.StructuredQuery_FieldFilter_OPERATOR_UNSPECIFIED, iv(1))},
			"where.field_filter.op: OPERATOR_UNSPECIFIED is not a field filter operator"},
		{"no value", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opEQ, nil)},
			"where.field_filter.value: a value is required"},
		{"unstorable value", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opEQ, sv("\xff"))},
			"where.field_filter.value: invalid value: a string value must be valid UTF-8"},
		{"in without array", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opIn, iv(1))},
			"where.field_filter.value: IN needs a non-empty array value, got integer_value"},
		{"in with empty array", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opIn, arrv())},
			"where.field_filter.value: IN needs a non-empty array value, got an empty array"},
		{"array contains any with empty array", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opACA, arrv())},
			"where.field_filter.value: ARRAY_CONTAINS_ANY needs a non-empty array value, got an empty array"},
		{"not in without array", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opNotIn, sv("x"))},
			"where.field_filter.value: NOT_IN needs a non-empty array value, got string_value"},
		{"in with 31 values", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opIn, arrv(manyValues(31)...))},
			"where.field_filter.value: IN has 31 values; the limit is 30"},
		{"not in with 11 values", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opNotIn, arrv(manyValues(11)...))},
			"where.field_filter.value: NOT_IN has 11 values; the limit is 10"},
		{"invalid in element", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opIn, arrv(iv(1), sv("\xff")))},
			"where.field_filter.value.array_value.values[1]: invalid value: a string value must be valid UTF-8"},
		{"name compared with a string", "", &pb.StructuredQuery{From: from("c"), Where: where("__name__", opEQ, sv("a"))},
			"where.field_filter.value: __name__ is compared with reference values (full document names), got string_value"},
		{"name in with a string", "", &pb.StructuredQuery{From: from("c"), Where: where("__name__", opIn, arrv(refv("c/a"), sv("b")))},
			"where.field_filter.value.array_value.values[1]: __name__ is compared with reference values (full document names), got string_value"},
		{"name compared with a relative reference", "", &pb.StructuredQuery{From: from("c"), Where: where("__name__", opEQ, relative)},
			`where.field_filter.value: reference must be a full document name projects/p/databases/d/documents/...: "c/a" is not a name under projects/{project_id}/databases/{database_id}/documents`},
		{"name compared with another database", "", &pb.StructuredQuery{From: from("c"), Where: where("__name__", opEQ, otherDB)},
			`where.field_filter.value: reference "projects/p/databases/other/documents/c/a" is in database "projects/p/databases/other", not in the queried "projects/p/databases/d"`},
		{"array contains on name", "", &pb.StructuredQuery{From: from("c"), Where: where("__name__", opAC, refv("c/a"))},
			"where.field_filter: ARRAY_CONTAINS cannot filter on __name__: a document name is not an array"},
		{"unary without operator", "", &pb.StructuredQuery{From: from("c"), Where: unary("a", pb.StructuredQuery_UnaryFilter_OPERATOR_UNSPECIFIED)},
			"where.unary_filter.op: OPERATOR_UNSPECIFIED is not a unary filter operator"},
		{"unary without field", "", &pb.StructuredQuery{From: from("c"), Where: &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_UnaryFilter{UnaryFilter: &pb.StructuredQuery_UnaryFilter{Op: isNull}}}},
			"where.unary_filter.field: a field path is required"},
		{"two not equals", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opNE, iv(1)), where("b", opNE, iv(1)))},
			"where: a query may contain only one NOT_EQUAL, NOT_IN, IS_NOT_NULL or IS_NOT_NAN filter, found NOT_EQUAL on a, NOT_EQUAL on b"},
		{"not in and not equal", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opNotIn, arrv(iv(1))), where("a", opNE, iv(2)))},
			"where: a query may contain only one NOT_EQUAL, NOT_IN, IS_NOT_NULL or IS_NOT_NAN filter, found NOT_IN on a, NOT_EQUAL on a"},
		{"not equal and is not null", "", &pb.StructuredQuery{From: from("c"), Where: or(where("a", opNE, iv(1)), unary("b", isNotNull))},
			"where: a query may contain only one NOT_EQUAL, NOT_IN, IS_NOT_NULL or IS_NOT_NAN filter, found NOT_EQUAL on a, IS_NOT_NULL on b"},
		{"not in and in", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opNotIn, arrv(iv(1))), where("b", opIn, arrv(iv(1))))},
			"where: NOT_IN cannot be combined with IN, ARRAY_CONTAINS_ANY or an OR filter in the same query"},
		{"not in and array contains any", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opNotIn, arrv(iv(1))), where("b", opACA, arrv(iv(1))))},
			"where: NOT_IN cannot be combined with IN, ARRAY_CONTAINS_ANY or an OR filter in the same query"},
		{"not in and or", "", &pb.StructuredQuery{From: from("c"), Where: or(where("a", opNotIn, arrv(iv(1))), where("b", opEQ, iv(1)))},
			"where: NOT_IN cannot be combined with IN, ARRAY_CONTAINS_ANY or an OR filter in the same query"},
		{"eleven inequality fields", "", &pb.StructuredQuery{From: from("c"), Where: and(eleven...)},
			"where: range and inequality filters are on 11 fields (f0, f1, f10, f2, f3, f4, f5, f6, f7, f8, f9); the limit is 10"},
		{"too many disjunctions", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opIn, arrv(manyValues(5)...)), where("b", opIn, arrv(manyValues(10)...)))},
			"where: the filter has more than 30 disjunctions in disjunctive normal form (IN and ARRAY_CONTAINS_ANY count one per value)"},
		{"too many disjunctions through or", "", &pb.StructuredQuery{From: from("c"), Where: or(where("a", opIn, arrv(manyValues(20)...)), where("b", opIn, arrv(manyValues(11)...)))},
			"where: the filter has more than 30 disjunctions in disjunctive normal form (IN and ARRAY_CONTAINS_ANY count one per value)"},
		{"two array contains", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opAC, iv(1)), where("b", opAC, iv(1)))},
			"where: a disjunction may contain only one ARRAY_CONTAINS or ARRAY_CONTAINS_ANY filter"},
		{"array contains and array contains any", "", &pb.StructuredQuery{From: from("c"), Where: and(where("a", opAC, iv(1)), or(where("c", opEQ, iv(1)), where("b", opACA, arrv(iv(1), iv(2)))))},
			"where: a disjunction may contain only one ARRAY_CONTAINS or ARRAY_CONTAINS_ANY filter"},
		{"too many filters in a disjunction", "a/b", &pb.StructuredQuery{From: from("c"), Where: and(fifty...), OrderBy: []*pb.StructuredQuery_Order{asc("x"), asc("y")}},
			"where: a disjunction has 98 filters, 2 orders and 1 parent level; their sum 101 exceeds the limit of 100"},
		{"order without field", "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{{Direction: pb.StructuredQuery_ASCENDING}}},
			"order_by[0].field: a field path is required"},
		{"unknown direction", "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("a"), {Field: fref("b"), Direction: 7}}},
			"order_by[1].direction: unknown direction 7"},
		{"field ordered twice", "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("a"), desc("a")}},
			"order_by[1]: a is already ordered by an earlier order_by"},
		{"cursor longer than the ordering", "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("a")}, StartAt: startAt(iv(1), refv("c/a"), iv(2))},
			"start_at: 3 values but the query is ordered by only 2 fields (a ASCENDING, __name__ ASCENDING)"},
		{"cursor longer than the implicit ordering", "", &pb.StructuredQuery{From: from("c"), Where: where("a", opGT, iv(1)), EndAt: endAt(iv(1), refv("c/a"), iv(2))},
			"end_at: 3 values but the query is ordered by only 2 fields (a ASCENDING, __name__ ASCENDING)"},
		{"empty cursor value", "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("a")}, EndAt: endAt(&pb.Value{})},
			"end_at.values[0]: a value is required"},
		{"cursor name not a reference", "", &pb.StructuredQuery{From: from("c"), StartAt: startAt(sv("a"))},
			"start_at.values[0]: __name__ is compared with reference values (full document names), got string_value"},
		{"cursor name relative", "", &pb.StructuredQuery{From: from("c"), StartAt: startAt(relative)},
			`start_at.values[0]: reference must be a full document name projects/p/databases/d/documents/...: "c/a" is not a name under projects/{project_id}/databases/{database_id}/documents`},
		{"cursor name in another collection", "", &pb.StructuredQuery{From: from("c"), StartAt: startAt(refv("other/a"))},
			`start_at.values[0]: document "projects/p/databases/d/documents/other/a" is outside the queried collection projects/p/databases/d/documents/c`},
		{"cursor name in a subcollection", "", &pb.StructuredQuery{From: from("c"), StartAt: startAt(refv("c/a/c/b"))},
			`start_at.values[0]: document "projects/p/databases/d/documents/c/a/c/b" is outside the queried collection projects/p/databases/d/documents/c`},
		{"group cursor name outside the parent", "a/b", &pb.StructuredQuery{From: fromGroup("c"), EndAt: endBefore(refv("x/y/c/d"))},
			`end_at.values[0]: document "projects/p/databases/d/documents/x/y/c/d" is outside the queried collection group "c" below projects/p/databases/d/documents/a/b`},
		{"negative offset", "", &pb.StructuredQuery{From: from("c"), Offset: -1}, "offset must be greater than or equal to zero, got -1"},
		{"negative limit", "", &pb.StructuredQuery{From: from("c"), Limit: wrapperspb.Int32(-2)}, "limit must be greater than or equal to zero, got -2"},
		{"bad select path", "", &pb.StructuredQuery{From: from("c"), Select: selectFields("a", "b.")},
			`select.fields[1]: invalid field path "b.": segment 2 is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := Compile(testDB, splitPath(tt.parent), tt.sq)
			if err == nil {
				t.Fatalf("Compile succeeded: %+v", q)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if got, want := err.Error(), "invalid query: "+tt.want; got != want {
				t.Errorf("error\n  %s\nwant\n  %s", got, want)
			}
		})
	}
}

// TestCompileAcceptsProductionLimits checks queries right at production's limits.
func TestCompileAcceptsProductionLimits(t *testing.T) {
	ten := make([]*pb.StructuredQuery_Filter, 10)
	for i := range ten {
		ten[i] = where(fmt.Sprintf("f%d", i), opGT, iv(0))
	}
	tests := []struct {
		name string
		sq   *pb.StructuredQuery
	}{
		{"in with 30 values", &pb.StructuredQuery{Where: where("a", opIn, arrv(manyValues(30)...))}},
		{"not in with 10 values", &pb.StructuredQuery{Where: where("a", opNotIn, arrv(manyValues(10)...))}},
		{"30 disjunctions", &pb.StructuredQuery{Where: and(where("a", opIn, arrv(manyValues(3)...)), where("b", opIn, arrv(manyValues(10)...)))}},
		{"ten inequality fields", &pb.StructuredQuery{Where: and(ten...)}},
		{"array contains in separate disjunctions", &pb.StructuredQuery{Where: or(where("a", opAC, iv(1)), where("b", opAC, iv(1)))}},
		{"array contains any alone", &pb.StructuredQuery{Where: where("a", opACA, arrv(iv(1), iv(2)))}},
		{"in with array contains", &pb.StructuredQuery{Where: and(where("a", opIn, arrv(iv(1), iv(2))), where("b", opAC, iv(1)))}},
		{"ordering by an equality field", &pb.StructuredQuery{Where: where("a", opEQ, iv(1)), OrderBy: []*pb.StructuredQuery_Order{asc("a")}}},
		{"inequality not ordered first", &pb.StructuredQuery{Where: where("a", opGT, iv(1)), OrderBy: []*pb.StructuredQuery_Order{asc("b")}}},
		{"range and not equal on different fields", &pb.StructuredQuery{Where: and(where("a", opGT, iv(1)), where("b", opNE, iv(1)))}},
		{"quoted field path", &pb.StructuredQuery{Where: where("`a b`.c", opEQ, iv(1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sq.From = from("c")
			if _, err := Compile(testDB, nil, tt.sq); err != nil {
				t.Errorf("Compile: %v", err)
			}
		})
	}
}
