package index

import (
	"errors"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const declaration = `{
  "indexes": [
    {"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "a", "order": "ASCENDING"}, {"fieldPath": "b", "order": "ASCENDING"}]},
    {"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "c", "order": "ASCENDING"}, {"fieldPath": "t", "order": "DESCENDING"}, {"fieldPath": "__name__", "order": "DESCENDING"}]},
    {"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "d", "order": "ASCENDING"}, {"fieldPath": "t", "order": "DESCENDING"}]},
    {"collectionGroup": "items", "queryScope": "COLLECTION_GROUP", "fields": [
      {"fieldPath": "a", "order": "ASCENDING"}, {"fieldPath": "b", "order": "DESCENDING"}]},
    {"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "tags", "arrayConfig": "CONTAINS"}, {"fieldPath": "b", "order": "ASCENDING"}]},
    {"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "g", "order": "ASCENDING"}, {"fieldPath": "n", "order": "ASCENDING"}]},
    {"collectionGroup": "docs", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "embedding", "vectorConfig": {"dimension": 3, "flat": {}}}]},
    {"collectionGroup": "docs", "queryScope": "COLLECTION", "fields": [
      {"fieldPath": "color", "order": "ASCENDING"}, {"fieldPath": "embedding", "vectorConfig": {"dimension": 3, "flat": {}}}]}
  ],
  "fieldOverrides": [
    {"collectionGroup": "items", "fieldPath": "secret", "indexes": []},
    {"collectionGroup": "items", "fieldPath": "expire_at", "ttl": true, "indexes": []},
    {"collectionGroup": "items", "fieldPath": "gc", "indexes": [
      {"queryScope": "COLLECTION", "order": "ASCENDING"}, {"queryScope": "COLLECTION_GROUP", "order": "ASCENDING"}]},
    {"collectionGroup": "items", "fieldPath": "m", "indexes": []},
    {"collectionGroup": "items", "fieldPath": "m.kept", "indexes": [{"queryScope": "COLLECTION", "order": "ASCENDING"}]},
    {"collectionGroup": "other", "fieldPath": "*", "indexes": []}
  ]
}`

// Query builders: enough of the structured query to state the cases briefly.

type qopt func(*pb.StructuredQuery)

func from(group string, allDescendants bool, opts ...qopt) *pb.StructuredQuery {
	q := &pb.StructuredQuery{From: []*pb.StructuredQuery_CollectionSelector{{CollectionId: group, AllDescendants: allDescendants}}}
	for _, o := range opts {
		o(q)
	}
	return q
}

func ref(f string) *pb.StructuredQuery_FieldReference {
	return &pb.StructuredQuery_FieldReference{FieldPath: f}
}

func field(f string, op pb.StructuredQuery_FieldFilter_Operator) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_FieldFilter{FieldFilter: &pb.StructuredQuery_FieldFilter{
		Field: ref(f), Op: op, Value: &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: 1}}}}}
}

func unary(f string, op pb.StructuredQuery_UnaryFilter_Operator) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_UnaryFilter{UnaryFilter: &pb.StructuredQuery_UnaryFilter{
		Op: op, OperandType: &pb.StructuredQuery_UnaryFilter_Field{Field: ref(f)}}}}
}

func eq(f string) *pb.StructuredQuery_Filter { return field(f, pb.StructuredQuery_FieldFilter_EQUAL) }
func gt(f string) *pb.StructuredQuery_Filter {
	return field(f, pb.StructuredQuery_FieldFilter_GREATER_THAN)
}
func contains(f string) *pb.StructuredQuery_Filter {
	return field(f, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS)
}

func composite(op pb.StructuredQuery_CompositeFilter_Operator, fs ...*pb.StructuredQuery_Filter) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_CompositeFilter{CompositeFilter: &pb.StructuredQuery_CompositeFilter{Op: op, Filters: fs}}}
}

func where(fs ...*pb.StructuredQuery_Filter) qopt {
	return func(q *pb.StructuredQuery) {
		if len(fs) == 1 {
			q.Where = fs[0]
			return
		}
		q.Where = composite(pb.StructuredQuery_CompositeFilter_AND, fs...)
	}
}

func or(fs ...*pb.StructuredQuery_Filter) *pb.StructuredQuery_Filter {
	return composite(pb.StructuredQuery_CompositeFilter_OR, fs...)
}

func orderBy(f string, desc bool) qopt {
	return func(q *pb.StructuredQuery) {
		dir := pb.StructuredQuery_ASCENDING
		if desc {
			dir = pb.StructuredQuery_DESCENDING
		}
		q.OrderBy = append(q.OrderBy, &pb.StructuredQuery_Order{Field: ref(f), Direction: dir})
	}
}

func nearest(f string, dims int) qopt {
	return func(q *pb.StructuredQuery) {
		var vals []*pb.Value
		for range dims {
			vals = append(vals, &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: 1}})
		}
		q.FindNearest = &pb.StructuredQuery_FindNearest{
			VectorField: ref(f),
			QueryVector: &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: map[string]*pb.Value{
				"__type__": {ValueType: &pb.Value_StringValue{StringValue: "__vector__"}},
				"value":    {ValueType: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Values: vals}}},
			}}}},
			DistanceMeasure: pb.StructuredQuery_FindNearest_EUCLIDEAN,
			Limit:           wrapperspb.Int32(3),
		}
	}
}

func sum(f string) *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Operator: &pb.StructuredAggregationQuery_Aggregation_Sum_{Sum: &pb.StructuredAggregationQuery_Aggregation_Sum{Field: ref(f)}}}
}

func avg(f string) *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Operator: &pb.StructuredAggregationQuery_Aggregation_Avg_{Avg: &pb.StructuredAggregationQuery_Aggregation_Avg{Field: ref(f)}}}
}

func count() *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Operator: &pb.StructuredAggregationQuery_Aggregation_Count_{Count: &pb.StructuredAggregationQuery_Aggregation_Count{}}}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(declaration))
	if err != nil {
		t.Fatal(err)
	}
	set := New(f)
	tests := []struct {
		name string
		q    *pb.StructuredQuery
		aggs []*pb.StructuredAggregationQuery_Aggregation
		want string // "" serves; otherwise a substring of the error, which names the index to add
	}{
		{"no filter", from("items", false), nil, ""},
		{"one equality", from("items", false, where(eq("a"))), nil, ""},
		{"equalities merge single-field indexes", from("items", false, where(eq("a"), eq("z"), unary("y", pb.StructuredQuery_UnaryFilter_IS_NULL))), nil, ""},
		{"equality and order on another field", from("items", false, where(eq("a")), orderBy("z", false)), nil,
			`"indexes": {"collectionGroup":"items","queryScope":"COLLECTION","fields":[{"fieldPath":"a","order":"ASCENDING"},{"fieldPath":"z","order":"ASCENDING"}]}`},
		{"equality and order in the index", from("items", false, where(eq("a")), orderBy("b", false)), nil, ""},
		{"the index read backwards", from("items", false, where(eq("a")), orderBy("b", true)), nil, ""},
		{"order on the equality field orders nothing", from("items", false, where(eq("z")), orderBy("z", true)), nil, ""},
		{"inequality alone", from("items", false, where(gt("a"))), nil, ""},
		{"order descending alone", from("items", false, orderBy("z", true)), nil, ""},
		{"inequality and order on another field", from("items", false, where(gt("a")), orderBy("b", false)), nil,
			`"fields":[{"fieldPath":"b","order":"ASCENDING"},{"fieldPath":"a","order":"ASCENDING"}]`},
		{"two inequalities ordered by path", from("items", false, where(gt("b"), gt("a"))), nil, ""},
		{"two orders", from("items", false, orderBy("a", false), orderBy("b", false)), nil, ""},
		{"two orders, one reversed", from("items", false, orderBy("a", false), orderBy("b", true)), nil, `{"fieldPath":"b","order":"DESCENDING"}`},
		{"an index with a field more does not serve", from("items", false, where(eq("c")), orderBy("z", false)), nil, `"fieldPath":"z"`},
		{"exempt field", from("items", false, where(eq("secret"))), nil,
			`single-field index on secret in collection group items. Set this field override in firestore.indexes.json under "fieldOverrides": {"collectionGroup":"items","fieldPath":"secret","indexes":[{"queryScope":"COLLECTION","order":"ASCENDING"}]}`},
		{"exempt TTL field keeps its TTL in the suggestion", from("items", false, orderBy("expire_at", false)), nil, `"fieldPath":"expire_at","ttl":true`},
		{"order on an exempt field", from("items", false, orderBy("secret", true)), nil, `"order":"DESCENDING"`},
		{"a map field's exemption covers its subfields", from("items", false, where(eq("m.x"))), nil, `single-field index on m.x`},
		{"a subfield's own override", from("items", false, where(eq("m.kept"))), nil, ""},
		{"a backquoted path is the same field", from("items", false, where(eq("m.`kept`"))), nil, ""},
		{"an override keeping only ascending", from("items", false, orderBy("gc", true)), nil,
			`{"queryScope":"COLLECTION","order":"ASCENDING"},{"queryScope":"COLLECTION_GROUP","order":"ASCENDING"},{"queryScope":"COLLECTION","order":"DESCENDING"}`},
		{"the wildcard override", from("other", false, where(eq("x"))), nil, `single-field index on x in collection group other`},
		{"collection group without fields", from("items", true), nil, ""},
		{"collection group on a field with a group-scope override", from("items", true, where(eq("gc"))), nil, ""},
		{"collection group on an automatic field", from("items", true, where(eq("z"))), nil,
			`{"queryScope":"COLLECTION","arrayConfig":"CONTAINS"},{"queryScope":"COLLECTION_GROUP","order":"ASCENDING"}]}`},
		{"collection group composite", from("items", true, where(eq("a")), orderBy("b", true)), nil, ""},
		{"collection group composite read backwards", from("items", true, where(eq("a")), orderBy("b", false)), nil, ""},
		{"collection group with no composite", from("items", true, where(eq("a")), orderBy("z", false)), nil, `"queryScope":"COLLECTION_GROUP"`},
		{"collection scope index does not serve a group", from("items", true, where(eq("c")), orderBy("t", true)), nil, `"queryScope":"COLLECTION_GROUP"`},
		{"index merging", from("items", false, where(eq("c"), eq("d")), orderBy("t", true)), nil, ""},
		{"index merging with a field no index has", from("items", false, where(eq("c"), eq("e")), orderBy("t", true)), nil, `{"fieldPath":"e","order":"ASCENDING"}`},
		{"array-contains alone", from("items", false, where(contains("tags"))), nil, ""},
		{"array-contains and order", from("items", false, where(contains("tags")), orderBy("b", false)), nil, ""},
		{"array-contains and another order", from("items", false, where(contains("tags")), orderBy("a", false)), nil, `{"fieldPath":"tags","arrayConfig":"CONTAINS"}`},
		{"array-contains on an exempt field", from("items", false, where(contains("secret"))), nil, `"arrayConfig":"CONTAINS"`},
		{"the name orders and filters freely", from("items", false, where(gt("a"), gt("__name__")), orderBy("a", false), orderBy("__name__", true)), nil, ""},
		{"kindless query", from("", true), nil, ""},
		{"sum with no filter", from("items", false), []*pb.StructuredAggregationQuery_Aggregation{sum("n")}, ""},
		{"sum of an exempt field", from("items", false), []*pb.StructuredAggregationQuery_Aggregation{sum("secret")}, `single-field index on secret`},
		{"sum filtered by equality", from("items", false, where(eq("g"))), []*pb.StructuredAggregationQuery_Aggregation{sum("n"), count()}, ""},
		{"avg filtered by another equality", from("items", false, where(eq("h"))), []*pb.StructuredAggregationQuery_Aggregation{avg("n")},
			`"fields":[{"fieldPath":"h","order":"ASCENDING"},{"fieldPath":"n","order":"ASCENDING"}]`},
		{"sum of the ordered field", from("items", false, where(gt("n"))), []*pb.StructuredAggregationQuery_Aggregation{sum("n")}, ""},
		{"count needs what the query needs", from("items", false, where(eq("g"))), []*pb.StructuredAggregationQuery_Aggregation{count()}, ""},
		{"or of equalities", from("items", false, where(or(eq("a"), eq("z")))), nil, ""},
		{"or: each branch needs its index", from("items", false, where(or(eq("a"), eq("c"))), orderBy("b", false)), nil,
			`"fields":[{"fieldPath":"c","order":"ASCENDING"},{"fieldPath":"b","order":"ASCENDING"}]`},
		{"and of ors", from("items", false, where(or(eq("a"), eq("tags")), or(eq("b"), eq("c")))), nil, ""},
		{"vector search", from("docs", false, nearest("embedding", 3)), nil, ""},
		{"vector search with a pre-filter", from("docs", false, where(eq("color")), nearest("embedding", 3)), nil, ""},
		{"vector search with another pre-filter", from("docs", false, where(eq("size")), nearest("embedding", 3)), nil,
			`{"fieldPath":"size","order":"ASCENDING"},{"fieldPath":"embedding","vectorConfig":{"dimension":3,"flat":{}}}`},
		{"vector search of another dimension", from("docs", false, nearest("embedding", 4)), nil, `"vectorConfig":{"dimension":4,"flat":{}}`},
		{"vector search without a vector index", from("items", false, nearest("embedding", 3)), nil, `"collectionGroup":"items"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := set.Check(tt.q, tt.aggs)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v, want the declaration to serve the query", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check: %v, want an error containing %s", err, tt.want)
			}
			if s, _ := status.FromError(err); s.Code() != codes.FailedPrecondition {
				t.Fatalf("status %v, want FAILED_PRECONDITION", s.Code())
			}
			var missing *MissingIndexError
			if !errors.As(err, &missing) {
				t.Fatalf("%T is not a *MissingIndexError", err)
			}
			// The suggested index or override, added to the declaration, serves the query.
			g := *f
			if missing.Index != nil {
				g.Indexes = append(append([]Index{}, f.Indexes...), *missing.Index)
			} else {
				g.FieldOverrides = nil
				for _, o := range f.FieldOverrides {
					if o.CollectionGroup != missing.Override.CollectionGroup || canonical(o.FieldPath) != missing.Override.FieldPath {
						g.FieldOverrides = append(g.FieldOverrides, o)
					}
				}
				g.FieldOverrides = append(g.FieldOverrides, *missing.Override)
			}
			if err := g.Validate(); err != nil {
				t.Fatalf("the declaration with the suggestion is invalid: %v", err)
			}
			if err := New(&g).Check(tt.q, tt.aggs); err != nil {
				t.Fatalf("with the suggestion added, Check: %v", err)
			}
		})
	}
}

func TestEmptyDeclarationHasTheAutomaticIndexes(t *testing.T) {
	t.Parallel()
	for _, set := range []*Set{New(nil), New(&File{})} {
		if err := set.Check(from("x", false, where(eq("a")), orderBy("a", true)), nil); err != nil {
			t.Errorf("single-field: %v", err)
		}
		if err := set.Check(from("x", false, where(eq("a")), orderBy("b", false)), nil); err == nil {
			t.Error("equality and order on different fields passed without a composite index")
		}
	}
}
