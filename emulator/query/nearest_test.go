package query

import (
	"math"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func vecv(xs ...float64) *pb.Value {
	return mapv(F{"__type__": sv("__vector__"), "value": arrv(dvs(xs...)...)})
}

const (
	euclidean = pb.StructuredQuery_FindNearest_EUCLIDEAN
	cosine    = pb.StructuredQuery_FindNearest_COSINE
	dotProd   = pb.StructuredQuery_FindNearest_DOT_PRODUCT
)

func findNearest(field string, target *pb.Value, m pb.StructuredQuery_FindNearest_DistanceMeasure, lim int32) *pb.StructuredQuery_FindNearest {
	return &pb.StructuredQuery_FindNearest{VectorField: fref(field), QueryVector: target, DistanceMeasure: m, Limit: limit(lim)}
}

// vectorDocs holds the official suite's coffee beans and a few that every search must skip.
func vectorDocs() *fakeSource {
	return newSource(
		doc("c/b0", F{"v": vecv(1, 2, 3), "id": iv(0)}),
		doc("c/b1", F{"v": vecv(4, 5, 6), "id": iv(1)}),
		doc("c/b2", F{"v": vecv(7, 8, 9), "id": iv(2)}),
		doc("c/b3", F{"v": vecv(10, 11, 12), "id": iv(3)}),
		doc("c/b4", F{"v": vecv(100, 200, 300), "id": iv(4)}),
		doc("c/short", F{"v": vecv(1, 2), "id": iv(5)}),                // another dimension
		doc("c/array", F{"v": arrv(dv(1), dv(2), dv(3)), "id": iv(6)}), // an array, not a vector
		doc("c/zero", F{"v": vecv(0, 0, 0), "id": iv(7)}),              // no direction for COSINE
		doc("c/ints", F{"v": mapv(F{"__type__": sv("__vector__"), "value": arrv(iv(-1), iv(-2), iv(-3))}), "id": iv(8)}),
		doc("c/none", F{"id": iv(9)}),
	)
}

func TestFindNearest(t *testing.T) {
	target := vecv(1, 2, 3)
	withThreshold := func(fn *pb.StructuredQuery_FindNearest, th float64) *pb.StructuredQuery_FindNearest {
		fn.DistanceThreshold = wrapperspb.Double(th)
		return fn
	}
	tests := []struct {
		name string
		sq   *pb.StructuredQuery
		want []string
	}{
		{"euclidean, the suite's first case", &pb.StructuredQuery{From: from("c"), Where: where("id", opLTE, iv(5)), FindNearest: findNearest("v", target, euclidean, 2)},
			[]string{"b0", "b1"}},
		{"euclidean", &pb.StructuredQuery{From: from("c"), FindNearest: findNearest("v", target, euclidean, 2)}, []string{"b0", "zero"}},
		{"euclidean within a threshold", &pb.StructuredQuery{From: from("c"), FindNearest: withThreshold(findNearest("v", target, euclidean, 10), 20)},
			[]string{"b0", "zero", "b1", "ints", "b2", "b3"}},
		{"euclidean, every vector of the dimension", &pb.StructuredQuery{From: from("c"), FindNearest: findNearest("v", target, euclidean, 1000)},
			[]string{"b0", "zero", "b1", "ints", "b2", "b3", "b4"}},
		{"cosine skips the zero vector", &pb.StructuredQuery{From: from("c"), FindNearest: findNearest("v", target, cosine, 10)},
			[]string{"b0", "b4", "b1", "b2", "b3", "ints"}},
		{"cosine within a threshold", &pb.StructuredQuery{From: from("c"), FindNearest: withThreshold(findNearest("v", target, cosine, 10), 0.03)},
			[]string{"b0", "b4", "b1"}},
		{"dot product, the largest first", &pb.StructuredQuery{From: from("c"), FindNearest: findNearest("v", target, dotProd, 3)}, []string{"b4", "b3", "b2"}},
		{"dot product at least a threshold", &pb.StructuredQuery{From: from("c"), FindNearest: withThreshold(findNearest("v", target, dotProd, 10), 0)},
			[]string{"b4", "b3", "b2", "b1", "b0", "zero"}},
		{"pre-filtered", &pb.StructuredQuery{From: from("c"), Where: where("id", opGTE, iv(2)), FindNearest: findNearest("v", target, euclidean, 2)},
			[]string{"zero", "ints"}},
		// The first three by name are array (no vector), b0 and b1.
		{"the query's limit applies first", &pb.StructuredQuery{From: from("c"), Limit: limit(3), FindNearest: findNearest("v", target, euclidean, 10)},
			[]string{"b0", "b1"}},
		{"selected fields", &pb.StructuredQuery{From: from("c"), Select: selectFields("id"), FindNearest: findNearest("v", target, euclidean, 1)}, []string{"b0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runQuery(t, "", tt.sq, vectorDocs())
			checkIDs(t, got, tt.want...)
			if tt.sq.Select != nil {
				for _, d := range got {
					if _, has := d.Fields["v"]; has {
						t.Errorf("%s keeps the unselected vector", d.Path)
					}
				}
			}
		})
	}
}

func TestFindNearestDistanceField(t *testing.T) {
	src := vectorDocs()
	fn := findNearest("v", vecv(1, 2, 3), euclidean, 3)
	fn.DistanceResultField = "dist"
	got := runQuery(t, "", &pb.StructuredQuery{From: from("c"), FindNearest: fn}, src)
	want := []float64{0, math.Sqrt(14), math.Sqrt(27)}
	checkIDs(t, got, "b0", "zero", "b1")
	for i, d := range got {
		if g := d.Fields["dist"].GetDoubleValue(); g != want[i] {
			t.Errorf("%s: dist = %v, want %v", d.Path, d.Fields["dist"], want[i])
		}
	}
	// The source's documents are left alone.
	for _, d := range src.docs {
		if _, has := d.Fields["dist"]; has {
			t.Fatalf("the search wrote into the stored %s", d.Path)
		}
	}
	fn.DistanceResultField = "m.`d d`"
	got = runQuery(t, "", &pb.StructuredQuery{From: from("c"), FindNearest: fn}, src)
	if v := got[2].Fields["m"].GetMapValue().GetFields()["d d"]; v.GetDoubleValue() != math.Sqrt(27) {
		t.Errorf("nested distance field = %v", got[1].Fields)
	}
}

func TestFindNearestCount(t *testing.T) {
	fn := findNearest("v", vecv(1, 2, 3), euclidean, 4)
	got := runAggregation(t, aggregation(&pb.StructuredQuery{From: from("c"), FindNearest: fn}, count("n"), sum("s", "id")), vectorDocs())
	if got["n"].GetIntegerValue() != 4 || got["s"].GetIntegerValue() != 0+1+7+8 {
		t.Errorf("count and sum over the 4 nearest = %v, %v; want 4 and 16", got["n"], got["s"])
	}
}

func TestFindNearestErrors(t *testing.T) {
	ok := func() *pb.StructuredQuery_FindNearest { return findNearest("v", vecv(1, 2), euclidean, 5) }
	tests := []struct {
		name string
		edit func(*pb.StructuredQuery_FindNearest)
		want string
	}{
		{"no field", func(f *pb.StructuredQuery_FindNearest) { f.VectorField = nil }, "find_nearest.vector_field: a field path is required"},
		{"name field", func(f *pb.StructuredQuery_FindNearest) { f.VectorField = fref("__name__") }, "not a vector field"},
		{"no query vector", func(f *pb.StructuredQuery_FindNearest) { f.QueryVector = nil }, "find_nearest.query_vector"},
		{"an array is not a vector", func(f *pb.StructuredQuery_FindNearest) { f.QueryVector = arrv(dv(1)) }, "must be a vector value"},
		{"an empty vector", func(f *pb.StructuredQuery_FindNearest) { f.QueryVector = vecv() }, "has 0 dimensions"},
		{"too many dimensions", func(f *pb.StructuredQuery_FindNearest) { f.QueryVector = vecv(make([]float64, 2049)...) }, "2049"},
		{"no measure", func(f *pb.StructuredQuery_FindNearest) { f.DistanceMeasure = 0 }, "find_nearest.distance_measure"},
		{"no limit", func(f *pb.StructuredQuery_FindNearest) { f.Limit = nil }, "find_nearest.limit"},
		{"zero limit", func(f *pb.StructuredQuery_FindNearest) { f.Limit = limit(0) }, "find_nearest.limit"},
		{"limit above 1000", func(f *pb.StructuredQuery_FindNearest) { f.Limit = limit(1001) }, "at most 1000"},
		{"bad result field", func(f *pb.StructuredQuery_FindNearest) { f.DistanceResultField = "a..b" }, "find_nearest.distance_result_field"},
	}
	for _, tt := range tests {
		fn := ok()
		tt.edit(fn)
		_, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), FindNearest: fn})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := Compile(testDB, nil, &pb.StructuredQuery{From: from("c"), FindNearest: findNearest("v", vecv(1), euclidean, 1000)}); err != nil {
		t.Errorf("limit 1000: %v", err)
	}
}
