package value

import (
	"math"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// sampleFields is {a: 1, m: {x: "s", n: {y: true}}, arr: [1]}.
func sampleFields() map[string]*pb.Value {
	return map[string]*pb.Value{
		"a": intV(1),
		"m": mapV(map[string]*pb.Value{
			"x": strV("s"),
			"n": mapV(map[string]*pb.Value{"y": boolV(true)}),
		}),
		"arr": arrV(intV(1)),
	}
}

func wantFields(t *testing.T, got, want map[string]*pb.Value) {
	t.Helper()
	if !FieldsEqual(got, want) {
		t.Errorf("fields = %v, want %v", mapV(got), mapV(want))
	}
}

func TestGetField(t *testing.T) {
	tests := []struct {
		path   FieldPath
		want   *pb.Value
		wantOK bool
	}{
		{FieldPath{"a"}, intV(1), true},
		{FieldPath{"m", "x"}, strV("s"), true},
		{FieldPath{"m", "n", "y"}, boolV(true), true},
		{FieldPath{"m", "n"}, mapV(map[string]*pb.Value{"y": boolV(true)}), true},
		{FieldPath{"missing"}, nil, false},
		{FieldPath{"m", "missing"}, nil, false},
		{FieldPath{"a", "x"}, nil, false},
		{FieldPath{"arr", "0"}, nil, false},
		{FieldPath{}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path.String(), func(t *testing.T) {
			got, ok := GetField(sampleFields(), tt.path)
			if ok != tt.wantOK || !proto.Equal(got, tt.want) {
				t.Errorf("GetField = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSetField(t *testing.T) {
	tests := []struct {
		name string
		path FieldPath
		v    *pb.Value
		want map[string]*pb.Value
	}{
		{"overwrite top level", FieldPath{"a"}, strV("new"), map[string]*pb.Value{
			"a": strV("new"), "m": sampleFields()["m"], "arr": sampleFields()["arr"],
		}},
		{"new top level", FieldPath{"b"}, nullV(), map[string]*pb.Value{
			"a": intV(1), "b": nullV(), "m": sampleFields()["m"], "arr": sampleFields()["arr"],
		}},
		{"nested in existing map", FieldPath{"m", "n", "z"}, intV(2), map[string]*pb.Value{
			"a": intV(1), "arr": sampleFields()["arr"],
			"m": mapV(map[string]*pb.Value{
				"x": strV("s"),
				"n": mapV(map[string]*pb.Value{"y": boolV(true), "z": intV(2)}),
			}),
		}},
		{"creates intermediate maps", FieldPath{"p", "q", "r"}, intV(3), map[string]*pb.Value{
			"a": intV(1), "m": sampleFields()["m"], "arr": sampleFields()["arr"],
			"p": mapV(map[string]*pb.Value{"q": mapV(map[string]*pb.Value{"r": intV(3)})}),
		}},
		{"replaces non-map intermediate", FieldPath{"a", "b"}, intV(4), map[string]*pb.Value{
			"a": mapV(map[string]*pb.Value{"b": intV(4)}), "m": sampleFields()["m"], "arr": sampleFields()["arr"],
		}},
		{"replaces array intermediate", FieldPath{"arr", "0"}, intV(5), map[string]*pb.Value{
			"a": intV(1), "m": sampleFields()["m"], "arr": mapV(map[string]*pb.Value{"0": intV(5)}),
		}},
		{"empty path is a no-op", FieldPath{}, intV(6), sampleFields()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := sampleFields()
			SetField(fields, tt.path, tt.v)
			wantFields(t, fields, tt.want)
		})
	}
}

func TestSetFieldIntoNilMaps(t *testing.T) {
	SetField(nil, FieldPath{"a"}, intV(1)) // must not panic

	fields := map[string]*pb.Value{"m": {ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{}}}}
	SetField(fields, FieldPath{"m", "k"}, intV(1))
	wantFields(t, fields, map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"k": intV(1)})})
}

func TestDeleteField(t *testing.T) {
	tests := []struct {
		name string
		path FieldPath
		want map[string]*pb.Value
	}{
		{"top level", FieldPath{"a"}, map[string]*pb.Value{"m": sampleFields()["m"], "arr": sampleFields()["arr"]}},
		{"nested leaves an empty parent", FieldPath{"m", "n", "y"}, map[string]*pb.Value{
			"a": intV(1), "arr": sampleFields()["arr"],
			"m": mapV(map[string]*pb.Value{"x": strV("s"), "n": mapV(map[string]*pb.Value{})}),
		}},
		{"whole map", FieldPath{"m"}, map[string]*pb.Value{"a": intV(1), "arr": sampleFields()["arr"]}},
		{"absent", FieldPath{"zz"}, sampleFields()},
		{"absent nested", FieldPath{"m", "zz", "y"}, sampleFields()},
		{"through a non-map", FieldPath{"a", "b"}, sampleFields()},
		{"empty path", FieldPath{}, sampleFields()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := sampleFields()
			DeleteField(fields, tt.path)
			wantFields(t, fields, tt.want)
		})
	}
}

func TestCloneFieldsIsDeep(t *testing.T) {
	orig := sampleFields()
	clone := CloneFields(orig)
	wantFields(t, clone, orig)
	SetField(clone, FieldPath{"m", "n", "y"}, boolV(false))
	clone["arr"].GetArrayValue().Values[0] = intV(9)
	wantFields(t, orig, sampleFields())

	if got := CloneFields(nil); got == nil || len(got) != 0 {
		t.Errorf("CloneFields(nil) = %v, want an empty non-nil map", got)
	}
}

func TestFieldsEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b map[string]*pb.Value
		want bool
	}{
		{"same", sampleFields(), sampleFields(), true},
		{"nil and empty", nil, map[string]*pb.Value{}, true},
		{"integer and double differ", map[string]*pb.Value{"a": intV(1)}, map[string]*pb.Value{"a": dblV(1)}, false},
		{"NaN equals NaN", map[string]*pb.Value{"a": dblV(math.NaN())}, map[string]*pb.Value{"a": dblV(math.NaN())}, true},
		{"different key", map[string]*pb.Value{"a": intV(1)}, map[string]*pb.Value{"b": intV(1)}, false},
		{"extra key", map[string]*pb.Value{"a": intV(1)}, map[string]*pb.Value{"a": intV(1), "b": intV(1)}, false},
		{"nested difference", sampleFields(), func() map[string]*pb.Value {
			f := sampleFields()
			SetField(f, FieldPath{"m", "x"}, strV("t"))
			return f
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FieldsEqual(tt.a, tt.b); got != tt.want {
				t.Errorf("FieldsEqual = %v, want %v", got, tt.want)
			}
			if got := FieldsEqual(tt.b, tt.a); got != tt.want {
				t.Errorf("reversed FieldsEqual = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProject(t *testing.T) {
	tests := []struct {
		name  string
		paths []FieldPath
		want  map[string]*pb.Value
	}{
		{"nothing", nil, map[string]*pb.Value{}},
		{"top level", []FieldPath{{"a"}}, map[string]*pb.Value{"a": intV(1)}},
		{"nested", []FieldPath{{"m", "n", "y"}}, map[string]*pb.Value{
			"m": mapV(map[string]*pb.Value{"n": mapV(map[string]*pb.Value{"y": boolV(true)})}),
		}},
		{"siblings", []FieldPath{{"m", "x"}, {"a"}, {"m", "n", "y"}}, map[string]*pb.Value{
			"a": intV(1),
			"m": mapV(map[string]*pb.Value{"x": strV("s"), "n": mapV(map[string]*pb.Value{"y": boolV(true)})}),
		}},
		{"missing paths are skipped", []FieldPath{{"zz"}, {"m", "zz"}, {"a", "b"}, {}}, map[string]*pb.Value{}},
		{"parent and child", []FieldPath{{"m", "x"}, {"m"}}, map[string]*pb.Value{"m": sampleFields()["m"]}},
		{"child after parent", []FieldPath{{"m"}, {"m", "x"}}, map[string]*pb.Value{"m": sampleFields()["m"]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := sampleFields()
			got := Project(fields, tt.paths)
			wantFields(t, got, tt.want)
			for k := range got {
				SetField(got, FieldPath{k, "mutated"}, intV(0))
			}
			wantFields(t, fields, sampleFields())
		})
	}
}
