package value

import (
	"errors"
	"math"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// nestMaps wraps leaf in depth maps, each under the key "m".
func nestMaps(depth int, leaf *pb.Value) *pb.Value {
	v := leaf
	for range depth {
		v = mapV(map[string]*pb.Value{"m": v})
	}
	return v
}

func TestValidateFieldsAccepts(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]*pb.Value
	}{
		{"empty document", nil},
		{"every storable type", map[string]*pb.Value{
			"null": nullV(), "bool": boolV(true), "int": intV(math.MinInt64), "nan": dblV(math.NaN()),
			"inf": dblV(math.Inf(-1)), "ts": tsV(0, 999999999), "str": strV("é"), "bytes": bytesV(0xff),
			"ref": refV("a/b/c/d"), "geo": geoV(-90, 180), "arr": arrV(intV(1), mapV(map[string]*pb.Value{"a": arrV()})),
			"map": mapV(map[string]*pb.Value{"x y": intV(1)}), "vec": vecV(1, 2),
		}},
		{"earliest timestamp", map[string]*pb.Value{"t": tsV(-62135596800, 0)}},
		{"latest timestamp", map[string]*pb.Value{"t": tsV(253402300799, 999999999)}},
		{"nanosecond timestamp", map[string]*pb.Value{"t": tsV(1, 123456789)}},
		{"depth 20 of maps", map[string]*pb.Value{"d": nestMaps(MaxDepth, intV(1))}},
		{"depth 20 mixing arrays", map[string]*pb.Value{"d": nestMaps(MaxDepth-1, arrV(intV(1)))}},
		{"longest field name", map[string]*pb.Value{strings.Repeat("k", MaxFieldNameBytes): intV(1)}},
		{"vector with integer elements", map[string]*pb.Value{"v": mapV(map[string]*pb.Value{
			"__type__": strV("__vector__"), "value": arrV(intV(1)),
		})}},
		{"names that only look reserved", map[string]*pb.Value{"__": intV(1), "___": intV(1), "__a": intV(1), "a__": intV(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateFields(tt.fields); err != nil {
				t.Errorf("ValidateFields: %v", err)
			}
		})
	}
}

func TestValidateFieldsRejects(t *testing.T) {
	function := &pb.Value{ValueType: &pb.Value_FunctionValue{FunctionValue: &pb.Function{Name: "f"}}}
	tests := []struct {
		name    string
		fields  map[string]*pb.Value
		wantMsg string
	}{
		{"unset value", map[string]*pb.Value{"a": {}}, "at field a: the value has no type set"},
		{"nil value", map[string]*pb.Value{"a": nil}, "at field a: the value has no type set"},
		{"unset nested value", map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"x-y": {}})}, "at field m.`x-y`: the value has no type set"},
		{"field reference", map[string]*pb.Value{"a": {ValueType: &pb.Value_FieldReferenceValue{FieldReferenceValue: "b"}}}, "at field a: a field reference cannot be stored"},
		{"variable reference", map[string]*pb.Value{"a": {ValueType: &pb.Value_VariableReferenceValue{VariableReferenceValue: "b"}}}, "a variable reference cannot be stored"},
		{"function", map[string]*pb.Value{"a": function}, "at field a: a function cannot be stored"},
		{"pipeline", map[string]*pb.Value{"a": {ValueType: &pb.Value_PipelineValue{PipelineValue: &pb.Pipeline{}}}}, "a pipeline cannot be stored"},
		{"array in array", map[string]*pb.Value{"a": arrV(intV(1), arrV())}, "at field a[1]: an array cannot directly contain another array"},
		{"array in array in map in array", map[string]*pb.Value{"a": arrV(mapV(map[string]*pb.Value{"b": arrV(arrV())}))}, "at field a[0].b[0]: an array cannot"},
		{"too deep", map[string]*pb.Value{"d": nestMaps(MaxDepth+1, intV(1))}, "nest more than 20 levels deep"},
		{"too deep with an array", map[string]*pb.Value{"d": nestMaps(MaxDepth, arrV())}, "at field d" + strings.Repeat(".m", MaxDepth) + ": maps and arrays nest more than 20"},
		{"empty top-level key", map[string]*pb.Value{"": intV(1)}, "a field name must not be empty"},
		{"empty nested key", map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"": intV(1)})}, "at field m: a field name must not be empty"},
		{"key not UTF-8", map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"\xff": intV(1)})}, "at field m: field name \"\\xff\" must be valid UTF-8"},
		{"key too long", map[string]*pb.Value{"m": mapV(map[string]*pb.Value{strings.Repeat("k", MaxFieldNameBytes+1): intV(1)})}, "1501 bytes, longer than the limit of 1500"},
		{"reserved top-level key", map[string]*pb.Value{"__name__": intV(1)}, "at field __name__: field name \"__name__\" is reserved"},
		{"reserved nested key", map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"__x__": intV(1)})}, "at field m.__x__: field name \"__x__\" is reserved"},
		{"__type__ outside a vector", map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"__type__": strV("other")})}, "at field m.__type__"},
		{"__type__ at top level", map[string]*pb.Value{"__type__": strV("__vector__")}, "at field __type__"},
		{"vector with extra key", map[string]*pb.Value{"v": mapV(map[string]*pb.Value{
			"__type__": strV("__vector__"), "value": arrV(), "extra": intV(1),
		})}, "at field v: a vector may only have"},
		{"vector without value", map[string]*pb.Value{"v": mapV(map[string]*pb.Value{"__type__": strV("__vector__")})}, "at field v.value: a vector's \"value\" must be an array"},
		{"vector of strings", map[string]*pb.Value{"v": mapV(map[string]*pb.Value{
			"__type__": strV("__vector__"), "value": arrV(dblV(1), strV("x")),
		})}, "at field v.value[1]: a vector element must be a number"},
		{"vector too long", map[string]*pb.Value{"v": vecV(make([]float64, MaxVectorDimensions+1)...)}, "2049 dimensions"},
		{"timestamp before year 1", map[string]*pb.Value{"t": tsV(-62135596801, 999999999)}, "at field t: timestamp seconds -62135596801"},
		{"timestamp after year 9999", map[string]*pb.Value{"t": tsV(253402300800, 0)}, "at field t: timestamp seconds 253402300800"},
		{"negative nanos", map[string]*pb.Value{"t": tsV(0, -1)}, "timestamp nanos -1"},
		{"nanos too large", map[string]*pb.Value{"t": tsV(0, 1e9)}, "timestamp nanos 1000000000"},
		{"reference not a document", map[string]*pb.Value{"r": refV("a")}, "at field r: a reference value must be a document name"},
		{"reference not a name", map[string]*pb.Value{"r": {ValueType: &pb.Value_ReferenceValue{ReferenceValue: "users/alice"}}}, "at field r: a reference value"},
		{"latitude too large", map[string]*pb.Value{"g": geoV(90.5, 0)}, "at field g: geo point latitude 90.5"},
		{"latitude NaN", map[string]*pb.Value{"g": geoV(math.NaN(), 0)}, "latitude NaN"},
		{"longitude too small", map[string]*pb.Value{"g": geoV(0, -180.5)}, "at field g: geo point longitude -180.5"},
		{"string not UTF-8", map[string]*pb.Value{"s": arrV(strV("ok"), strV("\xc3"))}, "at field s[1]: a string value must be valid UTF-8"},
		{"first problem in key order", map[string]*pb.Value{"b": {}, "a": {}, "c": {}}, "at field a:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFields(tt.fields)
			if err == nil {
				t.Fatal("ValidateFields accepted the fields")
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("error %v does not wrap ErrInvalidValue", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestValidateValue(t *testing.T) {
	if err := ValidateValue(arrV(intV(1))); err != nil {
		t.Errorf("ValidateValue(array): %v", err)
	}
	err := ValidateValue(&pb.Value{})
	if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "no type set") {
		t.Errorf("ValidateValue(unset) = %v, want an error about the missing type", err)
	}
}

func TestTruncateTimestamps(t *testing.T) {
	fields := map[string]*pb.Value{
		"t":   tsV(5, 123456789),
		"arr": arrV(tsV(-1, 999999999), intV(7)),
		"m":   mapV(map[string]*pb.Value{"n": mapV(map[string]*pb.Value{"t": tsV(0, 999)})}),
		"nil": {ValueType: &pb.Value_TimestampValue{}},
	}
	TruncateTimestamps(fields)
	want := map[string]*pb.Value{
		"t":   tsV(5, 123456000),
		"arr": arrV(tsV(-1, 999999000), intV(7)),
		"m":   mapV(map[string]*pb.Value{"n": mapV(map[string]*pb.Value{"t": tsV(0, 0)})}),
		"nil": {ValueType: &pb.Value_TimestampValue{}},
	}
	for k, w := range want {
		if !proto.Equal(fields[k], w) {
			t.Errorf("field %s = %v, want %v", k, fields[k], w)
		}
	}
}
