package query

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator/storage"
)

func count(alias string) *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Alias: alias, Operator: &pb.StructuredAggregationQuery_Aggregation_Count_{Count: &pb.StructuredAggregationQuery_Aggregation_Count{}}}
}

func countUpTo(alias string, n int64) *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Alias: alias, Operator: &pb.StructuredAggregationQuery_Aggregation_Count_{Count: &pb.StructuredAggregationQuery_Aggregation_Count{UpTo: wrapperspb.Int64(n)}}}
}

func sum(alias, field string) *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Alias: alias, Operator: &pb.StructuredAggregationQuery_Aggregation_Sum_{Sum: &pb.StructuredAggregationQuery_Aggregation_Sum{Field: fref(field)}}}
}

func avg(alias, field string) *pb.StructuredAggregationQuery_Aggregation {
	return &pb.StructuredAggregationQuery_Aggregation{Alias: alias, Operator: &pb.StructuredAggregationQuery_Aggregation_Avg_{Avg: &pb.StructuredAggregationQuery_Aggregation_Avg{Field: fref(field)}}}
}

func aggregation(sq *pb.StructuredQuery, aggs ...*pb.StructuredAggregationQuery_Aggregation) *pb.StructuredAggregationQuery {
	return &pb.StructuredAggregationQuery{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: sq}, Aggregations: aggs}
}

func runAggregation(t *testing.T, aq *pb.StructuredAggregationQuery, src Source) map[string]*pb.Value {
	t.Helper()
	a, err := CompileAggregation(testDB, nil, aq)
	if err != nil {
		t.Fatalf("CompileAggregation: %v", err)
	}
	out, err := a.Run(context.Background(), src)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out
}

// valuesSource puts each value in field v of its own document; nil leaves the field out.
func valuesSource(vs ...*pb.Value) *fakeSource {
	var docs []*storage.Version
	for i, v := range vs {
		f := F{"other": iv(1)}
		if v != nil {
			f["v"] = v
		}
		docs = append(docs, doc("c/d"+string(rune('a'+i)), f))
	}
	return newSource(docs...)
}

func TestSumAndAvg(t *testing.T) {
	tests := []struct {
		name     string
		values   []*pb.Value
		sum, avg *pb.Value
	}{
		{"integers stay integers", []*pb.Value{iv(1), iv(2), iv(4)}, iv(7), dv(7.0 / 3)},
		{"a double makes a double", []*pb.Value{iv(1), dv(0.5)}, dv(1.5), dv(0.75)},
		{"non-numeric values are skipped", []*pb.Value{iv(3), sv("5"), nullv(), bv(true), arrv(iv(9)), nil, mapv(F{"v": iv(1)})}, iv(3), dv(3)},
		{"nothing sums to integer zero, averages to null", nil, iv(0), nullv()},
		{"only non-numeric values", []*pb.Value{sv("x"), nullv()}, iv(0), nullv()},
		{"int64 overflow becomes a double", []*pb.Value{iv(math.MaxInt64), iv(1)}, dv(0x1p63), dv(0x1p62)},
		{"negative overflow becomes a double", []*pb.Value{iv(math.MinInt64), iv(-1)}, dv(-0x1p63), dv(-0x1p62)},
		{"overflow on the way that ends in range stays an integer", []*pb.Value{iv(math.MaxInt64), iv(1), iv(-2)}, iv(math.MaxInt64 - 1), dv(float64(math.MaxInt64-1) / 3)},
		{"NaN propagates", []*pb.Value{iv(1), nanv()}, nanv(), nanv()},
		{"infinity", []*pb.Value{dv(math.Inf(1)), iv(5)}, dv(math.Inf(1)), dv(math.Inf(1))},
		{"opposite infinities make NaN", []*pb.Value{dv(math.Inf(1)), dv(math.Inf(-1))}, nanv(), nanv()},
		// The official suite's cases: summed in order, IEEE addition gives 35.699999999999996
		// and 5.949999999999999.
		{"doubles are summed exactly and rounded once", dvs(3.7, 4.8, 5.9, 6.0, 7.1, 8.2), dv(35.7), dv(5.95)},
		{"the same doubles in another order", dvs(8.2, 5.9, 3.7, 7.1, 6.0, 4.8), dv(35.7), dv(5.95)},
		{"the suite's whole collection", dvs(1.5, 2.6, 3.7, 4.8, 5.9, 6.0, 7.1, 8.2), dv(39.8), dv(4.975)},
		{"ten tenths make one", dvs(0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1), dv(1), dv(0.1)},
		{"cancellation loses nothing", dvs(1e308, 1e308, -1e308), dv(1e308), dv(1e308 / 3)},
		{"a sum beyond the largest double is infinite", dvs(math.MaxFloat64, math.MaxFloat64), dv(math.Inf(1)), dv(math.Inf(1))},
		{"tiny values beside huge ones", dvs(1e300, 1e-300, -1e300), dv(1e-300), dv(1e-300 / 3)},
		{"the average divides the rounded sum", dvs(4.8, 5.9, 6.0, 7.1, 8.2), dv(32), dv(6.4)},
		{"subnormals", dvs(5e-324, 5e-324, 5e-324), dv(1.5e-323), dv(5e-324)},
		{"integers and doubles are added exactly", []*pb.Value{iv(math.MaxInt64), dv(0.5), iv(-math.MaxInt64)}, dv(0.5), dv(0.5 / 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runAggregation(t, aggregation(&pb.StructuredQuery{From: from("c")}, sum("s", "v"), avg("a", "v")), valuesSource(tt.values...))
			if !sameResult(got["s"], tt.sum) {
				t.Errorf("sum = %v, want %v", got["s"], tt.sum)
			}
			if !sameResult(got["a"], tt.avg) {
				t.Errorf("avg = %v, want %v", got["a"], tt.avg)
			}
		})
	}
}

func dvs(xs ...float64) []*pb.Value {
	out := make([]*pb.Value, len(xs))
	for i, x := range xs {
		out[i] = dv(x)
	}
	return out
}

// sameResult compares aggregation results exactly: same kind, and NaN equal to NaN.
func sameResult(a, b *pb.Value) bool {
	if _, ok := a.GetValueType().(*pb.Value_DoubleValue); ok && math.IsNaN(a.GetDoubleValue()) {
		_, isDouble := b.GetValueType().(*pb.Value_DoubleValue)
		return isDouble && math.IsNaN(b.GetDoubleValue())
	}
	return proto.Equal(a, b)
}

func TestCount(t *testing.T) {
	tests := []struct {
		name     string
		sq       *pb.StructuredQuery
		agg      *pb.StructuredAggregationQuery_Aggregation
		want     int64
		maxReads int
	}{
		{"all", &pb.StructuredQuery{}, count("n"), 6, 6},
		{"with a filter", &pb.StructuredQuery{Where: where("n", opGTE, iv(2))}, count("n"), 4, 6},
		{"with an order that excludes a document", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{asc("n")}}, count("n"), 5, 6},
		{"up to stops reading", &pb.StructuredQuery{}, countUpTo("n", 2), 2, 2},
		{"up to above the total", &pb.StructuredQuery{}, countUpTo("n", 10), 6, 6},
		{"after limit", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{desc("n")}, Limit: limit(3)}, count("n"), 3, 6},
		{"after offset", &pb.StructuredQuery{Offset: 4}, count("n"), 2, 6},
		{"after offset beyond the end", &pb.StructuredQuery{Offset: 40}, count("n"), 0, 6},
		{"limit zero", &pb.StructuredQuery{Limit: limit(0)}, count("n"), 0, 0},
		{"with cursors", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{asc("n")}, StartAt: startAfter(iv(2))}, count("n"), 2, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := numberedDocs()
			tt.sq.From = from("c")
			got := runAggregation(t, aggregation(tt.sq, tt.agg), src)
			if !proto.Equal(got["n"], iv(tt.want)) {
				t.Errorf("count = %v, want %d", got["n"], tt.want)
			}
			if src.reads > tt.maxReads {
				t.Errorf("read %d documents, want at most %d", src.reads, tt.maxReads)
			}
		})
	}
}

func TestAggregationsApplyLimitFirst(t *testing.T) {
	// numberedDocs has n = 1, 2, 2, 3, 4; descending, the first three are 4, 3, 2.
	sq := &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{desc("n")}, Limit: limit(3), Select: selectFields("m")}
	got := runAggregation(t, aggregation(sq, sum("s", "n"), avg("a", "n"), countUpTo("c", 2)), numberedDocs())
	want := map[string]*pb.Value{"s": iv(9), "a": dv(3), "c": iv(2)}
	for alias, w := range want {
		if !proto.Equal(got[alias], w) {
			t.Errorf("%s = %v, want %v", alias, got[alias], w)
		}
	}
}

func TestAggregationAliases(t *testing.T) {
	got := runAggregation(t, aggregation(&pb.StructuredQuery{From: from("c")}, count(""), sum("field_1", "n"), count(""), countUpTo("", 1), avg("x", "__name__")), numberedDocs())
	want := map[string]*pb.Value{"field_2": iv(6), "field_1": iv(12), "field_3": iv(6), "field_4": iv(1), "x": nullv()}
	if len(got) != len(want) {
		t.Errorf("got aliases %v, want %v", got, want)
	}
	for alias, w := range want {
		if !proto.Equal(got[alias], w) {
			t.Errorf("%s = %v, want %v", alias, got[alias], w)
		}
	}
}

func TestAggregationErrors(t *testing.T) {
	base := &pb.StructuredQuery{From: from("c")}
	noOperator := &pb.StructuredAggregationQuery_Aggregation{Alias: "x"}
	tests := []struct {
		name string
		aq   *pb.StructuredAggregationQuery
		want string
	}{
		{"no query", &pb.StructuredAggregationQuery{Aggregations: []*pb.StructuredAggregationQuery_Aggregation{count("n")}},
			"structured_query: the query to aggregate over is required"},
		{"invalid query", aggregation(&pb.StructuredQuery{From: from("c"), Offset: -1}, count("n")),
			"offset must be greater than or equal to zero, got -1"},
		{"no aggregations", aggregation(base),
			"aggregations: 0 given; an aggregation query needs between 1 and 5"},
		{"six aggregations", aggregation(base, count("a"), count("b"), count("c"), count("d"), count("e"), count("f")),
			"aggregations: 6 given; an aggregation query needs between 1 and 5"},
		{"no operator", aggregation(base, count("a"), noOperator),
			"aggregations[1]: an aggregation needs one of count, sum or avg"},
		{"up to zero", aggregation(base, countUpTo("a", 0)),
			"aggregations[0].count.up_to must be greater than zero, got 0"},
		{"negative up to", aggregation(base, countUpTo("a", -3)),
			"aggregations[0].count.up_to must be greater than zero, got -3"},
		{"sum without field", aggregation(base, sum("a", "")),
			"aggregations[0].sum.field: a field path is required"},
		{"avg with bad field", aggregation(base, avg("a", "x.")),
			`aggregations[0].avg.field: invalid field path "x.": segment 2 is empty`},
		{"duplicate alias", aggregation(base, count("a"), sum("a", "n")),
			`aggregations[1].alias: "a" is already the alias of an earlier aggregation; aliases must be unique`},
		{"reserved alias", aggregation(base, count("__a__")),
			`aggregations[0].alias "__a__": names of the form __.*__ are reserved`},
		{"alias not UTF-8", aggregation(base, count("\xff")),
			`aggregations[0].alias "\xff": must be valid UTF-8`},
		{"alias too long", aggregation(base, count(strings.Repeat("a", 1501))),
			`aggregations[0].alias "` + strings.Repeat("a", 1501) + `": is 1501 bytes, longer than the limit of 1500`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileAggregation(testDB, nil, tt.aq)
			if err == nil {
				t.Fatal("CompileAggregation succeeded")
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

func TestAggregationStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := bigSource(10_000)
	src.onRead = func(n int) {
		if n == 50 {
			cancel()
		}
	}
	a, err := CompileAggregation(testDB, nil, aggregation(&pb.StructuredQuery{From: from("c")}, count("n")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(ctx, src); !errors.Is(err, context.Canceled) || src.reads > 51 {
		t.Errorf("Run returned %v after %d reads, want context.Canceled right after 50", err, src.reads)
	}
}

// TestSumIndependentOfOrder sums the same doubles in many orders: exact summation gives one
// answer, where IEEE addition in document order would vary with the order.
func TestSumIndependentOfOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		xs := make([]float64, 2+rng.IntN(30))
		for i := range xs {
			xs[i] = (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(40)-20))
		}
		var want *pb.Value
		for range 5 {
			rng.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
			got := runAggregation(t, aggregation(&pb.StructuredQuery{From: from("c")}, sum("s", "v")), valuesSource(dvs(xs...)...))["s"]
			if want == nil {
				want = got
			} else if !sameResult(got, want) {
				t.Fatalf("trial %d: sum of %v = %v in one order and %v in another", trial, xs, got, want)
			}
		}
	}
}
