package query

import (
	"math"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

func TestOrderByMixedTypes(t *testing.T) {
	src := func() *fakeSource {
		return newSource(
			doc("c/map", F{"v": mapv(F{"a": iv(1)})}),
			doc("c/array", F{"v": arrv(iv(1))}),
			doc("c/geo", F{"v": geov(1, 2)}),
			doc("c/ref", F{"v": refv("c/x")}),
			doc("c/bytes", F{"v": bytesv("b")}),
			doc("c/string", F{"v": sv("s")}),
			doc("c/time", F{"v": tsv(10)}),
			doc("c/two", F{"v": dv(2)}),
			doc("c/one", F{"v": iv(1)}),
			doc("c/oneDouble", F{"v": dv(1)}),
			doc("c/minusInf", F{"v": dv(math.Inf(-1))}),
			doc("c/nan", F{"v": nanv()}),
			doc("c/false", F{"v": bv(false)}),
			doc("c/true", F{"v": bv(true)}),
			doc("c/null", F{"v": nullv()}),
			doc("c/missing", F{"w": iv(1)}),
		)
	}
	ascending := []string{"null", "false", "true", "nan", "minusInf", "one", "oneDouble", "two", "time", "string", "bytes", "ref", "geo", "array", "map"}
	t.Run("ascending, ties by name", func(t *testing.T) {
		checkIDs(t, runQuery(t, "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("v")}}, src()), ascending...)
	})
	t.Run("descending, ties by name descending", func(t *testing.T) {
		want := make([]string, len(ascending))
		for i, id := range ascending {
			want[len(ascending)-1-i] = id
		}
		checkIDs(t, runQuery(t, "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{desc("v")}}, src()), want...)
	})
}

func TestOrderByExcludesMissingFields(t *testing.T) {
	src := newSource(doc("c/a", F{"n": iv(2)}), doc("c/b", F{"m": iv(1)}), doc("c/c", F{"n": iv(1)}))
	checkIDs(t, runQuery(t, "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("n")}}, src), "c", "a")
	checkIDs(t, runQuery(t, "", &pb.StructuredQuery{From: from("c"), OrderBy: []*pb.StructuredQuery_Order{asc("n"), asc("m")}}, src))
}

func TestFullOrdering(t *testing.T) {
	tests := []struct {
		name string
		sq   *pb.StructuredQuery
		want string
	}{
		{"default", &pb.StructuredQuery{}, "__name__ ASCENDING"},
		{"explicit then name", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{asc("a")}}, "a ASCENDING, __name__ ASCENDING"},
		{"name follows last direction", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{asc("a"), desc("b")}}, "a ASCENDING, b DESCENDING, __name__ DESCENDING"},
		{"unspecified direction is ascending", &pb.StructuredQuery{OrderBy: []*pb.StructuredQuery_Order{{Field: fref("a")}}}, "a ASCENDING, __name__ ASCENDING"},
		{"inequality fields in field path order", &pb.StructuredQuery{Where: and(where("b", opGT, iv(1)), where("a.c", opLT, iv(1)), where("a", opNE, iv(1)))}, "a ASCENDING, a.c ASCENDING, b ASCENDING, __name__ ASCENDING"},
		{"inequality fields after explicit orders, in their direction", &pb.StructuredQuery{Where: and(where("b", opGT, iv(1)), where("a", opLT, iv(1))), OrderBy: []*pb.StructuredQuery_Order{desc("c")}}, "c DESCENDING, a DESCENDING, b DESCENDING, __name__ DESCENDING"},
		{"ordered inequality field not repeated", &pb.StructuredQuery{Where: and(where("b", opGT, iv(1)), where("a", opLT, iv(1))), OrderBy: []*pb.StructuredQuery_Order{asc("b")}}, "b ASCENDING, a ASCENDING, __name__ ASCENDING"},
		{"unary filters are inequalities", &pb.StructuredQuery{Where: or(unary("u", isNotNull), where("a", opLT, iv(1)))}, "a ASCENDING, u ASCENDING, __name__ ASCENDING"},
		{"inequalities inside or count", &pb.StructuredQuery{Where: or(where("n", opNE, iv(1)), where("m", opEQ, iv(1)))}, "n ASCENDING, __name__ ASCENDING"},
		{"not-in is an inequality", &pb.StructuredQuery{Where: where("n", opNotIn, arrv(iv(1)))}, "n ASCENDING, __name__ ASCENDING"},
		{"equality and unary null are not", &pb.StructuredQuery{Where: and(where("a", opEQ, iv(1)), unary("b", isNull), where("c", opIn, arrv(iv(1))))}, "__name__ ASCENDING"},
		{"name inequality adds nothing", &pb.StructuredQuery{Where: and(where("__name__", opGT, refv("c/a")), where("a", opGT, iv(1)))}, "a ASCENDING, __name__ ASCENDING"},
		{"explicit name keeps its place", &pb.StructuredQuery{Where: where("a", opGT, iv(1)), OrderBy: []*pb.StructuredQuery_Order{desc("__name__")}}, "__name__ DESCENDING, a DESCENDING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sq.From = from("c")
			q, err := Compile(testDB, nil, tt.sq)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := q.describeOrders(); got != tt.want {
				t.Errorf("ordering %q, want %q", got, tt.want)
			}
		})
	}
}

// TestImplicitOrderResults checks the implicit orders through results: ties on the explicit
// order fall back to the inequality fields, then to the name in the last direction.
func TestImplicitOrderResults(t *testing.T) {
	src := newSource(
		doc("c/p", F{"c": iv(1), "a": iv(2), "b": iv(1)}),
		doc("c/q", F{"c": iv(1), "a": iv(1), "b": iv(2)}),
		doc("c/r", F{"c": iv(1), "a": iv(1), "b": iv(1)}),
		doc("c/s", F{"c": iv(1), "a": iv(1), "b": iv(1)}),
		doc("c/t", F{"c": iv(0), "a": iv(9), "b": iv(9)}),
	)
	sq := &pb.StructuredQuery{
		From:    from("c"),
		Where:   and(where("b", opGT, iv(0)), where("a", opGT, iv(0))),
		OrderBy: []*pb.StructuredQuery_Order{desc("c")},
	}
	// c desc, then a desc, b desc, __name__ desc.
	checkIDs(t, runQuery(t, "", sq, src), "p", "q", "s", "r", "t")
}
