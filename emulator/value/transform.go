package value

import (
	"fmt"
	"math"
	"slices"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ApplyTransform computes a field transform. current is the field's value before the
// transform, nil when the field is absent; requestTime is the commit time. It returns the
// field's new value and the value WriteResult.transform_results reports for this transform.
// Neither output shares memory with the inputs, and the inputs are not modified.
func ApplyTransform(current *pb.Value, t *pb.DocumentTransform_FieldTransform, requestTime *timestamppb.Timestamp) (newValue, result *pb.Value, err error) {
	// Array transforms report null; the others report the new value.
	reportsNull := false
	switch op := t.GetTransformType().(type) {
	case *pb.DocumentTransform_FieldTransform_SetToServerValue:
		newValue, err = serverValue(op.SetToServerValue, requestTime)
	case *pb.DocumentTransform_FieldTransform_Increment:
		newValue, err = numericTransform("increment", current, op.Increment, increment)
	case *pb.DocumentTransform_FieldTransform_Maximum:
		newValue, err = numericTransform("maximum", current, op.Maximum, maximum)
	case *pb.DocumentTransform_FieldTransform_Minimum:
		newValue, err = numericTransform("minimum", current, op.Minimum, minimum)
	case *pb.DocumentTransform_FieldTransform_AppendMissingElements:
		newValue, err = appendMissing(current, op.AppendMissingElements)
		reportsNull = true
	case *pb.DocumentTransform_FieldTransform_RemoveAllFromArray:
		newValue, err = removeAll(current, op.RemoveAllFromArray)
		reportsNull = true
	case nil:
		return nil, nil, fmt.Errorf("%w: no transform is set for field %q", ErrInvalidTransform, t.GetFieldPath())
	default:
		return nil, nil, fmt.Errorf("%w: unsupported transform %T", ErrInvalidTransform, op)
	}
	if err != nil {
		return nil, nil, err
	}
	if reportsNull {
		return newValue, nullValue(), nil
	}
	return newValue, proto.Clone(newValue).(*pb.Value), nil
}

func nullValue() *pb.Value {
	return &pb.Value{ValueType: &pb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}

func serverValue(sv pb.DocumentTransform_FieldTransform_ServerValue, requestTime *timestamppb.Timestamp) (*pb.Value, error) {
	if sv != pb.DocumentTransform_FieldTransform_REQUEST_TIME {
		return nil, fmt.Errorf("%w: set_to_server_value must be REQUEST_TIME, got %v", ErrInvalidTransform, sv)
	}
	if requestTime == nil {
		return nil, fmt.Errorf("%w: set_to_server_value needs a request time", ErrInvalidTransform)
	}
	v := &pb.Value{ValueType: &pb.Value_TimestampValue{TimestampValue: proto.Clone(requestTime).(*timestamppb.Timestamp)}}
	truncateValue(v)
	return v, nil
}

// numericTransform checks the operand and applies combine, unless the field holds no number:
// then every numeric transform sets the field to the operand.
func numericTransform(name string, current, operand *pb.Value, combine func(current, operand *pb.Value) *pb.Value) (*pb.Value, error) {
	if !IsNumber(operand) {
		return nil, fmt.Errorf("%w: the %s operand must be an integer or a double, got %s", ErrInvalidTransform, name, typeName(operand))
	}
	if !IsNumber(current) {
		return proto.Clone(operand).(*pb.Value), nil
	}
	return proto.Clone(combine(current, operand)).(*pb.Value), nil
}

// increment adds with saturation for two integers and with IEEE double arithmetic as soon as
// either side is a double.
func increment(current, operand *pb.Value) *pb.Value {
	a, aIsInt := current.GetValueType().(*pb.Value_IntegerValue)
	b, bIsInt := operand.GetValueType().(*pb.Value_IntegerValue)
	if aIsInt && bIsInt {
		return integerValue(saturatingAdd(a.IntegerValue, b.IntegerValue))
	}
	return doubleValue(asDouble(current) + asDouble(operand))
}

func saturatingAdd(a, b int64) int64 {
	sum := a + b
	switch {
	case b > 0 && sum < a:
		return math.MaxInt64
	case b < 0 && sum > a:
		return math.MinInt64
	}
	return sum
}

func asDouble(v *pb.Value) float64 {
	if i, ok := v.GetValueType().(*pb.Value_IntegerValue); ok {
		return float64(i.IntegerValue)
	}
	return v.GetDoubleValue()
}

// maximum keeps the stored value unless the operand is strictly greater or NaN; NaN wins
// either way, and equal numbers of different types (3 and 3.0, 0 and -0.0) keep the stored one.
func maximum(current, operand *pb.Value) *pb.Value {
	if IsNaN(current) {
		return current
	}
	if IsNaN(operand) || compareNumbers(operand, current) > 0 {
		return operand
	}
	return current
}

// minimum mirrors maximum, including NaN winning.
func minimum(current, operand *pb.Value) *pb.Value {
	if IsNaN(current) {
		return current
	}
	if IsNaN(operand) || compareNumbers(operand, current) < 0 {
		return operand
	}
	return current
}

func integerValue(i int64) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: i}}
}

func doubleValue(d float64) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: d}}
}

func arrayValue(values []*pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_ArrayValue{ArrayValue: &pb.ArrayValue{Values: values}}}
}

// arrayOperand validates and copies the elements of an array transform's operand. The elements
// will be stored, so they must be storable values; timestamps are truncated as storing them
// would, so that equality is judged on what would be stored.
func arrayOperand(name string, operand *pb.ArrayValue) ([]*pb.Value, error) {
	if err := validateValue(arrayValue(operand.GetValues()), &location{key: name}, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTransform, err)
	}
	elems := make([]*pb.Value, len(operand.GetValues()))
	for i, e := range operand.GetValues() {
		elems[i] = proto.Clone(e).(*pb.Value)
		truncateValue(elems[i])
	}
	return elems, nil
}

// currentElements copies the stored array; a missing or non-array field counts as empty.
func currentElements(current *pb.Value) []*pb.Value {
	values := current.GetArrayValue().GetValues()
	out := make([]*pb.Value, len(values))
	for i, v := range values {
		out[i] = proto.Clone(v).(*pb.Value)
	}
	return out
}

// appendMissing appends, in operand order, each operand element not equal (in Firestore's
// order, so 1 equals 1.0) to an element already stored or appended.
func appendMissing(current *pb.Value, operand *pb.ArrayValue) (*pb.Value, error) {
	adds, err := arrayOperand("append_missing_elements", operand)
	if err != nil {
		return nil, err
	}
	out := currentElements(current)
	present := sortedValues(out)
	// Sorting indices stably keeps the first of several equal operand elements first, so
	// comparing each with its sorted predecessor finds the later duplicates.
	order := make([]int, len(adds))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return Compare(adds[i], adds[j]) })
	keep := make([]bool, len(adds))
	for k, i := range order {
		if k > 0 && Equal(adds[order[k-1]], adds[i]) {
			continue
		}
		_, found := slices.BinarySearchFunc(present, adds[i], Compare)
		keep[i] = !found
	}
	for i, e := range adds {
		if keep[i] {
			out = append(out, e)
		}
	}
	return arrayValue(out), nil
}

// removeAll drops every stored element equal (in Firestore's order) to any operand element.
func removeAll(current *pb.Value, operand *pb.ArrayValue) (*pb.Value, error) {
	removals, err := arrayOperand("remove_all_from_array", operand)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(removals, Compare)
	out := slices.DeleteFunc(currentElements(current), func(e *pb.Value) bool {
		_, found := slices.BinarySearchFunc(removals, e, Compare)
		return found
	})
	return arrayValue(out), nil
}

func sortedValues(values []*pb.Value) []*pb.Value {
	sorted := slices.Clone(values)
	slices.SortFunc(sorted, Compare)
	return sorted
}

// typeName names v's type for error messages.
func typeName(v *pb.Value) string {
	switch v.GetValueType().(type) {
	case *pb.Value_NullValue:
		return "null"
	case *pb.Value_BooleanValue:
		return "a boolean"
	case *pb.Value_IntegerValue:
		return "an integer"
	case *pb.Value_DoubleValue:
		return "a double"
	case *pb.Value_TimestampValue:
		return "a timestamp"
	case *pb.Value_StringValue:
		return "a string"
	case *pb.Value_BytesValue:
		return "bytes"
	case *pb.Value_ReferenceValue:
		return "a reference"
	case *pb.Value_GeoPointValue:
		return "a geo point"
	case *pb.Value_ArrayValue:
		return "an array"
	case *pb.Value_MapValue:
		if IsVector(v) {
			return "a vector"
		}
		return "a map"
	case *pb.Value_FieldReferenceValue:
		return "a field reference"
	case *pb.Value_VariableReferenceValue:
		return "a variable reference"
	case *pb.Value_FunctionValue:
		return "a function"
	case *pb.Value_PipelineValue:
		return "a pipeline"
	default:
		return "no value (the value type is not set)"
	}
}
