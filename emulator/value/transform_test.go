package value

import (
	"errors"
	"math"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func incrementT(v *pb.Value) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{FieldPath: "f", TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: v}}
}

func maximumT(v *pb.Value) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{FieldPath: "f", TransformType: &pb.DocumentTransform_FieldTransform_Maximum{Maximum: v}}
}

func minimumT(v *pb.Value) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{FieldPath: "f", TransformType: &pb.DocumentTransform_FieldTransform_Minimum{Minimum: v}}
}

func appendT(values ...*pb.Value) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{FieldPath: "f", TransformType: &pb.DocumentTransform_FieldTransform_AppendMissingElements{
		AppendMissingElements: &pb.ArrayValue{Values: values},
	}}
}

func removeT(values ...*pb.Value) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{FieldPath: "f", TransformType: &pb.DocumentTransform_FieldTransform_RemoveAllFromArray{
		RemoveAllFromArray: &pb.ArrayValue{Values: values},
	}}
}

func serverT(sv pb.DocumentTransform_FieldTransform_ServerValue) *pb.DocumentTransform_FieldTransform {
	return &pb.DocumentTransform_FieldTransform{FieldPath: "f", TransformType: &pb.DocumentTransform_FieldTransform_SetToServerValue{SetToServerValue: sv}}
}

func TestApplyTransform(t *testing.T) {
	negZero := math.Copysign(0, -1)
	requestTime := &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 123456789}
	tests := []struct {
		name       string
		current    *pb.Value
		transform  *pb.DocumentTransform_FieldTransform
		want       *pb.Value
		wantResult *pb.Value // nil means the same as want
	}{
		{"request time", intV(1), serverT(pb.DocumentTransform_FieldTransform_REQUEST_TIME), tsV(1700000000, 123456000), nil},
		{"request time on missing field", nil, serverT(pb.DocumentTransform_FieldTransform_REQUEST_TIME), tsV(1700000000, 123456000), nil},

		{"increment ints", intV(2), incrementT(intV(3)), intV(5), nil},
		{"increment negative", intV(2), incrementT(intV(-3)), intV(-1), nil},
		{"increment saturates up", intV(math.MaxInt64 - 1), incrementT(intV(5)), intV(math.MaxInt64), nil},
		{"increment saturates down", intV(math.MinInt64 + 1), incrementT(intV(-5)), intV(math.MinInt64), nil},
		{"increment reaches MaxInt64 exactly", intV(math.MaxInt64 - 5), incrementT(intV(5)), intV(math.MaxInt64), nil},
		{"increment int by double", intV(1), incrementT(dblV(0.5)), dblV(1.5), nil},
		{"increment double by int", dblV(0.5), incrementT(intV(1)), dblV(1.5), nil},
		{"increment int by integral double", intV(1), incrementT(dblV(2)), dblV(3), nil},
		{"increment doubles overflow to Inf", dblV(math.MaxFloat64), incrementT(dblV(math.MaxFloat64)), dblV(math.Inf(1)), nil},
		{"increment NaN", dblV(math.NaN()), incrementT(intV(1)), dblV(math.NaN()), nil},
		{"increment missing field", nil, incrementT(intV(7)), intV(7), nil},
		{"increment non-numeric field", strV("x"), incrementT(dblV(2.5)), dblV(2.5), nil},
		{"increment null field", nullV(), incrementT(intV(1)), intV(1), nil},

		{"maximum larger operand", intV(1), maximumT(intV(2)), intV(2), nil},
		{"maximum smaller operand", intV(3), maximumT(intV(2)), intV(3), nil},
		{"maximum takes winning double", intV(1), maximumT(dblV(1.5)), dblV(1.5), nil},
		{"maximum takes winning int", dblV(1.5), maximumT(intV(2)), intV(2), nil},
		{"maximum keeps stored int on equal double", intV(3), maximumT(dblV(3)), intV(3), nil},
		{"maximum keeps stored double on equal int", dblV(3), maximumT(intV(3)), dblV(3), nil},
		{"maximum keeps stored -0.0 against 0", dblV(negZero), maximumT(intV(0)), dblV(negZero), nil},
		{"maximum keeps stored 0 against -0.0", intV(0), maximumT(dblV(negZero)), intV(0), nil},
		{"maximum NaN operand wins", intV(5), maximumT(dblV(math.NaN())), dblV(math.NaN()), nil},
		{"maximum stored NaN stays", dblV(math.NaN()), maximumT(intV(5)), dblV(math.NaN()), nil},
		{"maximum exact beyond 2^53", dblV(1 << 53), maximumT(intV(1<<53 + 1)), intV(1<<53 + 1), nil},
		{"maximum missing field", nil, maximumT(intV(-4)), intV(-4), nil},
		{"maximum non-numeric field", strV("9"), maximumT(intV(1)), intV(1), nil},

		{"minimum smaller operand", intV(3), minimumT(intV(2)), intV(2), nil},
		{"minimum larger operand", intV(1), minimumT(intV(2)), intV(1), nil},
		{"minimum takes winning double", intV(1), minimumT(dblV(0.5)), dblV(0.5), nil},
		{"minimum keeps stored on equal", intV(3), minimumT(dblV(3)), intV(3), nil},
		{"minimum keeps stored -0.0", dblV(negZero), minimumT(dblV(0)), dblV(negZero), nil},
		{"minimum NaN operand wins", intV(5), minimumT(dblV(math.NaN())), dblV(math.NaN()), nil},
		{"minimum stored NaN stays", dblV(math.NaN()), minimumT(intV(5)), dblV(math.NaN()), nil},
		{"minimum -Inf", intV(math.MinInt64), minimumT(dblV(math.Inf(-1))), dblV(math.Inf(-1)), nil},
		{"minimum missing field", nil, minimumT(dblV(2)), dblV(2), nil},

		{"append to array", arrV(intV(1), strV("a")), appendT(intV(2), strV("a")), arrV(intV(1), strV("a"), intV(2)), nullV()},
		{"append numerically equal is present", arrV(intV(1)), appendT(dblV(1), dblV(1.5)), arrV(intV(1), dblV(1.5)), nullV()},
		{"append duplicates in operand count once", arrV(), appendT(intV(3), dblV(3), strV("x"), intV(3), strV("x")), arrV(intV(3), strV("x")), nullV()},
		{"append keeps operand order", arrV(intV(5)), appendT(strV("z"), intV(1), nullV(), intV(5), boolV(false)), arrV(intV(5), strV("z"), intV(1), nullV(), boolV(false)), nullV()},
		{"append NaN and null already present", arrV(dblV(math.NaN()), nullV()), appendT(dblV(math.NaN()), nullV()), arrV(dblV(math.NaN()), nullV()), nullV()},
		{"append keeps existing duplicates", arrV(intV(1), intV(1)), appendT(intV(1)), arrV(intV(1), intV(1)), nullV()},
		{"append maps by value", arrV(mapV(map[string]*pb.Value{"a": intV(1)})), appendT(mapV(map[string]*pb.Value{"a": dblV(1)})), arrV(mapV(map[string]*pb.Value{"a": intV(1)})), nullV()},
		{"append to missing field", nil, appendT(intV(1)), arrV(intV(1)), nullV()},
		{"append to non-array", strV("s"), appendT(intV(1)), arrV(intV(1)), nullV()},
		{"append nothing", arrV(intV(1)), appendT(), arrV(intV(1)), nullV()},
		{"append truncates timestamps", arrV(tsV(1, 5000)), appendT(tsV(1, 5999), tsV(2, 999)), arrV(tsV(1, 5000), tsV(2, 0)), nullV()},

		{"remove all equal", arrV(intV(1), intV(2), dblV(1), intV(3), intV(1)), removeT(intV(1)), arrV(intV(2), intV(3)), nullV()},
		{"remove by numeric equality", arrV(intV(1), dblV(2), strV("a")), removeT(dblV(1), intV(2)), arrV(strV("a")), nullV()},
		{"remove NaN and null", arrV(dblV(math.NaN()), nullV(), intV(0)), removeT(dblV(math.NaN()), nullV()), arrV(intV(0)), nullV()},
		{"remove -0.0 removes 0", arrV(intV(0), dblV(0)), removeT(dblV(negZero)), arrV(), nullV()},
		{"remove absent", arrV(intV(1)), removeT(intV(2)), arrV(intV(1)), nullV()},
		{"remove from missing field", nil, removeT(intV(1)), arrV(), nullV()},
		{"remove from non-array", intV(1), removeT(intV(1)), arrV(), nullV()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			currentBefore := proto.Clone(tt.current)
			transformBefore := proto.Clone(tt.transform)
			got, result, err := ApplyTransform(tt.current, tt.transform, requestTime)
			if err != nil {
				t.Fatalf("ApplyTransform: %v", err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("new value = %v, want %v", got, tt.want)
			}
			wantResult := tt.wantResult
			if wantResult == nil {
				wantResult = tt.want
			}
			if !proto.Equal(result, wantResult) {
				t.Errorf("result = %v, want %v", result, wantResult)
			}
			if !proto.Equal(tt.current, currentBefore) || !proto.Equal(tt.transform, transformBefore) {
				t.Errorf("ApplyTransform modified its inputs")
			}
		})
	}
}

func TestApplyTransformOutputsAreIndependent(t *testing.T) {
	current := arrV(mapV(map[string]*pb.Value{"k": intV(1)}))
	operand := mapV(map[string]*pb.Value{"k": intV(2)})
	got, _, err := ApplyTransform(current, appendT(operand), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got.GetArrayValue().GetValues() {
		e.GetMapValue().Fields["k"] = intV(99)
	}
	if !proto.Equal(current, arrV(mapV(map[string]*pb.Value{"k": intV(1)}))) || !proto.Equal(operand, mapV(map[string]*pb.Value{"k": intV(2)})) {
		t.Errorf("the new value shares memory with the inputs")
	}

	got, result, err := ApplyTransform(intV(1), incrementT(intV(1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	got.ValueType = &pb.Value_IntegerValue{IntegerValue: 99}
	if !proto.Equal(result, intV(2)) {
		t.Errorf("result %v shares memory with the new value", result)
	}
}

func TestApplyTransformErrors(t *testing.T) {
	requestTime := timestamppb.New(timestamppb.Now().AsTime())
	tests := []struct {
		name        string
		transform   *pb.DocumentTransform_FieldTransform
		requestTime *timestamppb.Timestamp
		wantMsg     string
	}{
		{"nil transform", nil, requestTime, "no transform is set"},
		{"empty oneof", &pb.DocumentTransform_FieldTransform{FieldPath: "f"}, requestTime, `no transform is set for field "f"`},
		{"unspecified server value", serverT(pb.DocumentTransform_FieldTransform_SERVER_VALUE_UNSPECIFIED), requestTime, "must be REQUEST_TIME"},
		{"unknown server value", serverT(7), requestTime, "must be REQUEST_TIME"},
		{"missing request time", serverT(pb.DocumentTransform_FieldTransform_REQUEST_TIME), nil, "needs a request time"},
		{"increment by string", incrementT(strV("1")), requestTime, "increment operand must be an integer or a double, got a string"},
		{"increment by nil", incrementT(nil), requestTime, "increment operand must be an integer or a double"},
		{"increment by unset value", incrementT(&pb.Value{}), requestTime, "increment operand"},
		{"maximum by null", maximumT(nullV()), requestTime, "maximum operand must be an integer or a double, got null"},
		{"minimum by array", minimumT(arrV(intV(1))), requestTime, "minimum operand must be an integer or a double, got an array"},
		{"append nested array", appendT(intV(1), arrV(intV(2))), requestTime, "append_missing_elements[1]: an array cannot directly contain another array"},
		{"append unset value", appendT(&pb.Value{}), requestTime, "append_missing_elements[0]: the value has no type set"},
		{"remove field reference", removeT(&pb.Value{ValueType: &pb.Value_FieldReferenceValue{FieldReferenceValue: "a"}}), requestTime, "remove_all_from_array[0]: a field reference cannot be stored"},
		{"append reserved key", appendT(mapV(map[string]*pb.Value{"__x__": intV(1)})), requestTime, "append_missing_elements[0].__x__"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, result, err := ApplyTransform(intV(1), tt.transform, tt.requestTime)
			if err == nil {
				t.Fatalf("ApplyTransform = %v, %v; want an error", got, result)
			}
			if !errors.Is(err, ErrInvalidTransform) {
				t.Errorf("error %v does not wrap ErrInvalidTransform", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			if got != nil || result != nil {
				t.Errorf("ApplyTransform returned values with an error: %v, %v", got, result)
			}
		})
	}
}

func BenchmarkAppendMissingElements(b *testing.B) {
	values := make([]*pb.Value, 2000)
	for i := range values {
		values[i] = intV(int64(i))
	}
	current := arrV(values...)
	transform := appendT(values[1000:]...)
	for b.Loop() {
		if _, _, err := ApplyTransform(current, transform, nil); err != nil {
			b.Fatal(err)
		}
	}
}
