package value

import (
	"fmt"
	"math"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/encoding/prototext"
)

// orderedGroups spans every type in ascending order; values inside a group are equal.
func orderedGroups() [][]*pb.Value {
	const twoTo53 = 1 << 53
	return [][]*pb.Value{
		{nullV()},
		{boolV(false)},
		{boolV(true)},
		{dblV(math.NaN()), dblV(math.Float64frombits(0x7ff8000000000001))},
		{dblV(math.Inf(-1))},
		{dblV(-1e300)},
		{intV(math.MinInt64), dblV(-0x1p63)},
		{intV(-twoTo53 - 1)},
		{intV(-twoTo53), dblV(-twoTo53)},
		{dblV(-1.5)},
		{intV(-1), dblV(-1)},
		{dblV(-0.5)},
		{dblV(math.Copysign(0, -1)), intV(0), dblV(0)},
		{dblV(math.SmallestNonzeroFloat64)},
		{intV(1), dblV(1)},
		{dblV(1.5)},
		{intV(2)},
		{intV(twoTo53), dblV(twoTo53)},
		{intV(twoTo53 + 1)},
		{intV(twoTo53 + 2), dblV(twoTo53 + 2)},
		{intV(math.MaxInt64)},
		{dblV(9.223372036854776e18)},
		{dblV(math.MaxFloat64)},
		{dblV(math.Inf(1))},
		{tsV(-62135596800, 0)},
		{tsV(0, 0)},
		{tsV(0, 1000)},
		{tsV(1, 0)},
		{strV("")},
		{strV("a")},
		{strV("ab")},
		{strV("b")},
		{strV("z")},
		{strV("é")},
		{strV("\uffff")},
		{strV("😀")}, // after U+FFFF in UTF-8 byte order, though before it in UTF-16
		{bytesV()},
		{bytesV(0)},
		{bytesV(0, 1)},
		{bytesV(1)},
		{bytesV(0xff)},
		{refV("a/b")},
		{refV("a/b/c/d")},
		{refV("a-c/b")}, // segment "a" < "a-c", though '/' > '-' as bytes
		{refV("b/a")},
		{geoV(-90, 0)},
		{geoV(0, -180)},
		{geoV(0, 0)},
		{geoV(0, 180)},
		{geoV(90, -180)},
		{arrV()},
		{arrV(nullV())},
		{arrV(intV(1)), arrV(dblV(1))},
		{arrV(intV(1), intV(2), intV(3))},
		{arrV(intV(1), intV(2), intV(3), intV(1))},
		{arrV(intV(2))},
		{arrV(strV("a"))},
		{vecV()},
		{vecV(5)},
		{vecV(1, 2)},
		{vecV(1, 3)},
		{mapV(nil), mapV(map[string]*pb.Value{})},
		{mapV(map[string]*pb.Value{"__type__": strV("other")})},
		{mapV(map[string]*pb.Value{"a": intV(1)}), mapV(map[string]*pb.Value{"a": dblV(1)})},
		{mapV(map[string]*pb.Value{"a": strV("aaa"), "b": strV("baz")})},
		{mapV(map[string]*pb.Value{"a": strV("foo"), "b": strV("bar")})},
		{mapV(map[string]*pb.Value{"a": strV("foo"), "b": strV("bar"), "c": strV("qux")})},
		{mapV(map[string]*pb.Value{"a": strV("foo"), "b": strV("baz")})},
		{mapV(map[string]*pb.Value{"b": strV("aaa"), "c": strV("baz")})},
		{mapV(map[string]*pb.Value{"c": strV("aaa")})},
	}
}

func show(v *pb.Value) string {
	if v == nil {
		return "<nil>"
	}
	return prototext.Format(v)
}

func TestCompareTotalOrder(t *testing.T) {
	groups := orderedGroups()
	type item struct {
		group int
		v     *pb.Value
	}
	var items []item
	for g, vs := range groups {
		for _, v := range vs {
			items = append(items, item{g, v})
		}
	}
	for _, a := range items {
		for _, b := range items {
			want := 0
			switch {
			case a.group < b.group:
				want = -1
			case a.group > b.group:
				want = 1
			}
			if got := Compare(a.v, b.v); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", show(a.v), show(b.v), got, want)
			}
			if got := Equal(a.v, b.v); got != (want == 0) {
				t.Errorf("Equal(%s, %s) = %v, want %v", show(a.v), show(b.v), got, want == 0)
			}
		}
	}
}

func TestCompareNumericEdges(t *testing.T) {
	tests := []struct {
		name string
		a, b *pb.Value
		want int
	}{
		{"2^53+1 above double 2^53", intV(1<<53 + 1), dblV(1 << 53), 1},
		{"double 2^53 below 2^53+1", dblV(1 << 53), intV(1<<53 + 1), -1},
		{"MaxInt64 below 2^63 double", intV(math.MaxInt64), dblV(9.223372036854776e18), -1},
		{"MinInt64 equals -2^63 double", intV(math.MinInt64), dblV(-0x1p63), 0},
		{"MinInt64 above next double down", intV(math.MinInt64), dblV(math.Nextafter(-0x1p63, math.Inf(-1))), 1},
		{"-0.0 equals 0", dblV(math.Copysign(0, -1)), intV(0), 0},
		{"-0.0 equals 0.0", dblV(math.Copysign(0, -1)), dblV(0), 0},
		{"NaN below -Inf", dblV(math.NaN()), dblV(math.Inf(-1)), -1},
		{"NaN below MinInt64", dblV(math.NaN()), intV(math.MinInt64), -1},
		{"integer above NaN", intV(0), dblV(math.NaN()), 1},
		{"NaN equals NaN", dblV(math.NaN()), dblV(math.NaN()), 0},
		{"3 below 3.5", intV(3), dblV(3.5), -1},
		{"-3 above -3.5", intV(-3), dblV(-3.5), 1},
		{"-3 below -2.5", intV(-3), dblV(-2.5), -1},
		{"integer below +Inf", intV(math.MaxInt64), dblV(math.Inf(1)), -1},
		{"integer above -Inf", intV(math.MinInt64), dblV(math.Inf(-1)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare = %d, want %d", got, tt.want)
			}
			if got := Compare(tt.b, tt.a); got != -tt.want {
				t.Errorf("reversed Compare = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestTypeOrder(t *testing.T) {
	tests := []struct {
		v    *pb.Value
		want int
	}{
		{nullV(), RankNull},
		{boolV(true), RankBoolean},
		{intV(1), RankNumber},
		{dblV(1), RankNumber},
		{tsV(0, 0), RankTimestamp},
		{strV(""), RankString},
		{bytesV(), RankBytes},
		{refV("a/b"), RankReference},
		{geoV(0, 0), RankGeoPoint},
		{arrV(), RankArray},
		{vecV(1), RankVector},
		{mapV(nil), RankMap},
		{mapV(map[string]*pb.Value{"__type__": intV(1)}), RankMap},
		{&pb.Value{ValueType: &pb.Value_FieldReferenceValue{FieldReferenceValue: "a"}}, RankUnstorable},
		{&pb.Value{}, RankUnset},
		{nil, RankUnset},
	}
	for _, tt := range tests {
		t.Run(typeName(tt.v), func(t *testing.T) {
			if got := TypeOrder(tt.v); got != tt.want {
				t.Errorf("TypeOrder = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCompareUnusualInputs(t *testing.T) {
	fieldRef := func(s string) *pb.Value {
		return &pb.Value{ValueType: &pb.Value_FieldReferenceValue{FieldReferenceValue: s}}
	}
	function := &pb.Value{ValueType: &pb.Value_FunctionValue{FunctionValue: &pb.Function{Name: "f"}}}
	tests := []struct {
		name string
		a, b *pb.Value
		want int
	}{
		{"nil equals unset", nil, &pb.Value{}, 0},
		{"unset after map", &pb.Value{}, mapV(nil), 1},
		{"field reference after map", fieldRef("a"), mapV(nil), 1},
		{"field references by text", fieldRef("a"), fieldRef("b"), -1},
		{"same field reference", fieldRef("a"), fieldRef("a"), 0},
		{"field reference before function", fieldRef("a"), function, -1},
		{"nil timestamp is the epoch", &pb.Value{ValueType: &pb.Value_TimestampValue{}}, tsV(0, 0), 0},
		{"nil array is empty", &pb.Value{ValueType: &pb.Value_ArrayValue{}}, arrV(), 0},
		{"vector without value is empty", mapV(map[string]*pb.Value{"__type__": strV("__vector__")}), vecV(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare = %d, want %d", got, tt.want)
			}
			if got := Compare(tt.b, tt.a); got != -tt.want {
				t.Errorf("reversed Compare = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestPredicates(t *testing.T) {
	tests := []struct {
		v                      *pb.Value
		null, number, nan, vec bool
	}{
		{v: nullV(), null: true},
		{v: intV(0), number: true},
		{v: dblV(math.NaN()), number: true, nan: true},
		{v: dblV(math.Inf(1)), number: true},
		{v: strV("NaN")},
		{v: vecV(1), vec: true},
		{v: mapV(map[string]*pb.Value{"__type__": strV("__vector_")})},
		{v: nil},
	}
	for _, tt := range tests {
		t.Run(typeName(tt.v), func(t *testing.T) {
			if got := IsNull(tt.v); got != tt.null {
				t.Errorf("IsNull = %v", got)
			}
			if got := IsNumber(tt.v); got != tt.number {
				t.Errorf("IsNumber = %v", got)
			}
			if got := IsNaN(tt.v); got != tt.nan {
				t.Errorf("IsNaN = %v", got)
			}
			if got := IsVector(tt.v); got != tt.vec {
				t.Errorf("IsVector = %v", got)
			}
		})
	}
}

func BenchmarkCompareMaps(b *testing.B) {
	fields := map[string]*pb.Value{}
	for i := range 20 {
		fields[fmt.Sprint("field", i)] = intV(int64(i))
	}
	x, y := mapV(fields), mapV(CloneFields(fields))
	for b.Loop() {
		Compare(x, y)
	}
}
