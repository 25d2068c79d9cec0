package query

import (
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// mixedDocs holds one field x of many types, plus a document without it.
func mixedDocs() *fakeSource {
	return newSource(
		doc("c/a", F{"x": nanv()}),
		doc("c/b", F{"x": iv(1)}),
		doc("c/c", F{"x": dv(2.5)}),
		doc("c/d", F{"x": iv(3)}),
		doc("c/e", F{"x": sv("3")}),
		doc("c/f", F{"x": arrv(iv(1), iv(3))}),
		doc("c/g", F{"x": nullv()}),
		doc("c/h", F{"y": iv(1)}),
		doc("c/i", F{"x": bv(true)}),
		doc("c/j", F{"x": mapv(F{"k": iv(1)})}),
	)
}

func TestFieldFilterOperators(t *testing.T) {
	tests := []struct {
		name   string
		filter *pb.StructuredQuery_Filter
		want   []string // in query order: inequality filters order by x, then name
	}{
		{"equal int", where("x", opEQ, iv(3)), []string{"d"}},
		{"equal matches int with double", where("x", opEQ, dv(3)), []string{"d"}},
		{"equal string", where("x", opEQ, sv("3")), []string{"e"}},
		{"equal array", where("x", opEQ, arrv(iv(1), iv(3))), []string{"f"}},
		{"equal map", where("x", opEQ, mapv(F{"k": iv(1)})), []string{"j"}},
		{"equal null never matches", where("x", opEQ, nullv()), nil},
		{"equal NaN never matches", where("x", opEQ, nanv()), nil},
		{"less than numbers only, NaN first", where("x", opLT, iv(3)), []string{"a", "b", "c"}},
		{"less than or equal", where("x", opLTE, iv(3)), []string{"a", "b", "c", "d"}},
		{"greater than", where("x", opGT, iv(1)), []string{"c", "d"}},
		{"greater than or equal", where("x", opGTE, dv(1)), []string{"b", "c", "d"}},
		{"greater than string only strings", where("x", opGT, sv("")), []string{"e"}},
		{"less than bool only bools", where("x", opLTE, bv(true)), []string{"i"}},
		{"range with null operand never matches", where("x", opGTE, nullv()), nil},
		{"range with NaN operand never matches", where("x", opGT, nanv()), nil},
		{"not equal orders by x across types", where("x", opNE, iv(3)), []string{"i", "a", "b", "c", "e", "f", "j"}},
		{"not equal null", where("x", opNE, nullv()), []string{"i", "a", "b", "c", "d", "e", "f", "j"}},
		{"not equal NaN", where("x", opNE, nanv()), []string{"i", "b", "c", "d", "e", "f", "j"}},
		{"array contains", where("x", opAC, iv(3)), []string{"f"}},
		{"array contains nothing in scalars", where("x", opAC, sv("3")), nil},
		{"in", where("x", opIn, arrv(iv(1), sv("3"))), []string{"b", "e"}},
		{"in whole array", where("x", opIn, arrv(arrv(iv(1), iv(3)))), []string{"f"}},
		{"in null never matches", where("x", opIn, arrv(nullv())), nil},
		{"in NaN never matches, other values do", where("x", opIn, arrv(iv(3), nanv())), []string{"d"}},
		{"not in", where("x", opNotIn, arrv(iv(1), iv(3))), []string{"i", "a", "c", "e", "f", "j"}},
		{"not in with null matches nothing", where("x", opNotIn, arrv(iv(1), nullv())), nil},
		{"not in NaN", where("x", opNotIn, arrv(nanv())), []string{"i", "b", "c", "d", "e", "f", "j"}},
		{"array contains any", where("x", opACA, arrv(iv(3), sv("z"))), []string{"f"}},
		{"array contains any of nothing present", where("x", opACA, arrv(iv(2))), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runQuery(t, "", &pb.StructuredQuery{From: from("c"), Where: tt.filter}, mixedDocs())
			checkIDs(t, got, tt.want...)
		})
	}
}

func TestUnaryFilters(t *testing.T) {
	tests := []struct {
		name string
		op   pb.StructuredQuery_UnaryFilter_Operator
		want []string
	}{
		{"is null", isNull, []string{"g"}},
		{"is NaN", isNaN, []string{"a"}},
		{"is not null orders by x", isNotNull, []string{"i", "a", "b", "c", "d", "e", "f", "j"}},
		{"is not NaN excludes null too", isNotNaN, []string{"i", "b", "c", "d", "e", "f", "j"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runQuery(t, "", &pb.StructuredQuery{From: from("c"), Where: unary("x", tt.op)}, mixedDocs())
			checkIDs(t, got, tt.want...)
		})
	}
}

// TestNullAndNaNLikeProduction replays the null and NaN cases of the client libraries'
// integration tests, which run against production Firestore.
func TestNullAndNaNLikeProduction(t *testing.T) {
	zips := func() *fakeSource {
		return newSource(
			doc("z/a", F{"zip": nanv()}),
			doc("z/b", F{"zip": iv(91102)}),
			doc("z/c", F{"zip": iv(98101)}),
			doc("z/d", F{"zip": sv("98101")}),
			doc("z/e", F{"zip": arrv(iv(98101))}),
			doc("z/f", F{"zip": arrv(iv(98101), iv(98102))}),
			doc("z/g", F{"zip": arrv(sv("98101"), mapv(F{"zip": iv(98101)}))}),
			doc("z/h", F{"zip": mapv(F{"code": iv(500)})}),
			doc("z/i", F{"code": iv(500)}),
			doc("z/j", F{"zip": nullv()}),
		)
	}
	arrays := func() *fakeSource {
		return newSource(
			doc("z/a", F{"array": arrv(iv(42))}),
			doc("z/b", F{"array": arrv(sv("a"), iv(42), sv("c"))}),
			doc("z/c", F{"array": arrv(dv(41.999), sv("42"), mapv(F{"a": arrv(iv(42))}))}),
			doc("z/d", F{"array": arrv(iv(42)), "array2": arrv(sv("bingo"))}),
			doc("z/e", F{"array": arrv(iv(43))}),
			doc("z/f", F{"array": arrv(mapv(F{"a": iv(42)}))}),
			doc("z/g", F{"array": iv(42)}),
			doc("z/h", F{"array": arrv(nullv())}),
			doc("z/i", F{"array": arrv(nanv())}),
		)
	}
	tests := []struct {
		name   string
		src    func() *fakeSource
		filter *pb.StructuredQuery_Filter
		want   []string
	}{
		{"!= number", zips, where("zip", opNE, iv(98101)), []string{"a", "b", "d", "e", "f", "g", "h"}},
		{"!= map", zips, where("zip", opNE, mapv(F{"code": iv(500)})), []string{"a", "b", "c", "d", "e", "f", "g"}},
		{"!= null", zips, where("zip", opNE, nullv()), []string{"a", "b", "c", "d", "e", "f", "g", "h"}},
		{"!= NaN", zips, where("zip", opNE, nanv()), []string{"b", "c", "d", "e", "f", "g", "h"}},
		{"not-in values and array", zips, where("zip", opNotIn, arrv(iv(98101), iv(98103), arrv(iv(98101), iv(98102)))), []string{"a", "b", "d", "e", "g", "h"}},
		{"not-in null", zips, where("zip", opNotIn, arrv(nullv())), nil},
		{"not-in NaN", zips, where("zip", opNotIn, arrv(nanv())), []string{"b", "c", "d", "e", "f", "g", "h"}},
		{"not-in NaN and number", zips, where("zip", opNotIn, arrv(nanv(), iv(98101))), []string{"b", "d", "e", "f", "g", "h"}},
		{"in values and array", zips, where("zip", opIn, arrv(iv(98101), iv(98103), arrv(iv(98101), iv(98102)))), []string{"c", "f"}},
		{"in map", zips, where("zip", opIn, arrv(mapv(F{"code": iv(500)}))), []string{"h"}},
		{"in null", zips, where("zip", opIn, arrv(nullv())), nil},
		{"in null and value", zips, where("zip", opIn, arrv(iv(98101), nullv())), []string{"c"}},
		{"in NaN", zips, where("zip", opIn, arrv(nanv())), nil},
		{"in NaN and value", zips, where("zip", opIn, arrv(iv(98101), nanv())), []string{"c"}},
		{"array-contains", arrays, where("array", opAC, iv(42)), []string{"a", "b", "d"}},
		{"array-contains null", arrays, where("array", opAC, nullv()), nil},
		{"array-contains NaN", arrays, where("array", opAC, nanv()), nil},
		{"array-contains-any", arrays, where("array", opACA, arrv(iv(42), iv(43))), []string{"a", "b", "d", "e"}},
		{"array-contains-any map", arrays, where("array", opACA, arrv(mapv(F{"a": iv(42)}))), []string{"f"}},
		{"array-contains-any null", arrays, where("array", opACA, arrv(nullv())), nil},
		{"array-contains-any null and value", arrays, where("array", opACA, arrv(iv(43), nullv())), []string{"e"}},
		{"array-contains-any NaN", arrays, where("array", opACA, arrv(nanv())), nil},
		{"array-contains-any NaN and value", arrays, where("array", opACA, arrv(iv(43), nanv())), []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runQuery(t, "", &pb.StructuredQuery{From: from("z"), Where: tt.filter}, tt.src())
			checkIDs(t, got, tt.want...)
		})
	}
}

func TestNameFilters(t *testing.T) {
	src := func() *fakeSource {
		return newSource(doc("k/aa", nil), doc("k/ab", nil), doc("k/ba", nil), doc("k/bb", nil))
	}
	tests := []struct {
		name   string
		filter *pb.StructuredQuery_Filter
		want   []string
	}{
		{"equal", where("__name__", opEQ, refv("k/ab")), []string{"ab"}},
		{"not equal", where("__name__", opNE, refv("k/aa")), []string{"ab", "ba", "bb"}},
		{"less than", where("__name__", opLT, refv("k/b")), []string{"aa", "ab"}},
		{"less than or equal", where("__name__", opLTE, refv("k/ba")), []string{"aa", "ab", "ba"}},
		{"greater than", where("__name__", opGT, refv("k/ab")), []string{"ba", "bb"}},
		{"greater than or equal", where("__name__", opGTE, refv("k/ab")), []string{"ab", "ba", "bb"}},
		{"in", where("__name__", opIn, arrv(refv("k/aa"), refv("k/ab"))), []string{"aa", "ab"}},
		{"not in", where("__name__", opNotIn, arrv(refv("k/aa"), refv("k/ab"))), []string{"ba", "bb"}},
		{"equal in another collection", where("__name__", opEQ, refv("other/aa")), nil},
		{"is not null", unary("__name__", isNotNull), []string{"aa", "ab", "ba", "bb"}},
		{"is null", unary("__name__", isNull), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runQuery(t, "", &pb.StructuredQuery{From: from("k"), Where: tt.filter}, src())
			checkIDs(t, got, tt.want...)
		})
	}
}

func TestCompositeFilters(t *testing.T) {
	src := func() *fakeSource {
		return newSource(
			doc("c/1", F{"a": iv(1), "b": iv(1)}),
			doc("c/2", F{"a": iv(1), "b": iv(2)}),
			doc("c/3", F{"a": iv(2), "b": iv(1)}),
			doc("c/4", F{"a": iv(2), "b": iv(2)}),
			doc("c/5", F{"a": iv(3)}),
			doc("c/6", F{"b": iv(1)}),
		)
	}
	tests := []struct {
		name   string
		filter *pb.StructuredQuery_Filter
		want   []string
	}{
		{"and", and(where("a", opEQ, iv(1)), where("b", opEQ, iv(2))), []string{"2"}},
		{"or", or(where("a", opEQ, iv(1)), where("b", opEQ, iv(1))), []string{"1", "2", "3", "6"}},
		{"or of ands", or(and(where("a", opEQ, iv(1)), where("b", opEQ, iv(2))), and(where("a", opEQ, iv(2)), where("b", opEQ, iv(1)))), []string{"2", "3"}},
		{"and of or", and(where("a", opEQ, iv(2)), or(where("b", opEQ, iv(1)), where("b", opEQ, iv(2)))), []string{"3", "4"}},
		{"nested three levels", or(and(where("a", opEQ, iv(1)), or(where("b", opEQ, iv(1)), where("b", opEQ, iv(2)))), where("a", opEQ, iv(3))), []string{"1", "2", "5"}},
		{"single-filter composite", and(where("b", opEQ, iv(2))), []string{"2", "4"}},
		// The inequality on a orders by a, which leaves out 6 although b == 1 matches it.
		{"or with inequality orders by its field", or(where("a", opGT, iv(2)), where("b", opEQ, iv(1))), []string{"1", "3", "5"}},
		{"and with in", and(where("a", opIn, arrv(iv(1), iv(2))), where("b", opEQ, iv(1))), []string{"1", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runQuery(t, "", &pb.StructuredQuery{From: from("c"), Where: tt.filter}, src())
			checkIDs(t, got, tt.want...)
		})
	}
}

func TestNestedFieldFilter(t *testing.T) {
	src := newSource(
		doc("c/a", nil),
		doc("c/b", F{"map": mapv(F{})}),
		doc("c/c", F{"map": mapv(F{"nested": mapv(F{})})}),
		doc("c/d", F{"map": mapv(F{"nested": sv("foo")})}),
		doc("c/e", F{"odd.name": sv("foo")}),
	)
	checkIDs(t, runQuery(t, "", &pb.StructuredQuery{From: from("c"), Where: where("map.nested", opEQ, sv("foo"))}, src), "d")
	checkIDs(t, runQuery(t, "", &pb.StructuredQuery{From: from("c"), Where: where("`odd.name`", opEQ, sv("foo"))}, src), "e")
}
