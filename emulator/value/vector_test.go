package value

import (
	"slices"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

func TestVector(t *testing.T) {
	vec := func(extra map[string]*pb.Value, elems ...*pb.Value) *pb.Value {
		f := map[string]*pb.Value{
			"__type__": {ValueType: &pb.Value_StringValue{StringValue: "__vector__"}},
			"value":    {ValueType: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Values: elems}}},
		}
		for k, v := range extra {
			f[k] = v
		}
		return &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: f}}}
	}
	d := func(x float64) *pb.Value { return &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: x}} }
	i := func(x int64) *pb.Value { return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: x}} }
	s := func(x string) *pb.Value { return &pb.Value{ValueType: &pb.Value_StringValue{StringValue: x}} }
	tests := []struct {
		name string
		v    *pb.Value
		want []float64
		ok   bool
	}{
		{"doubles", vec(nil, d(1.5), d(-2)), []float64{1.5, -2}, true},
		{"integers count as numbers", vec(nil, i(3), d(0.5)), []float64{3, 0.5}, true},
		{"empty", vec(nil), []float64{}, true},
		{"a string element", vec(nil, d(1), s("x")), nil, false},
		{"value is not an array", vec(map[string]*pb.Value{"value": d(1)}), nil, false},
		{"another type marker", vec(map[string]*pb.Value{"__type__": s("__other__")}, d(1)), nil, false},
		{"not a map", d(1), nil, false},
		{"nil", nil, nil, false},
	}
	for _, tt := range tests {
		got, ok := Vector(tt.v)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Vector = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
