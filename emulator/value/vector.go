package value

import pb "cloud.google.com/go/firestore/apiv1/firestorepb"

// VectorValues returns the elements of a vector value: v must be a map whose "__type__" is
// "__vector__" and whose "value" is an array of numbers only (integers or doubles), as
// production stores embeddings. ok is false for anything else. Read the elements with
// NumberOf; nothing is copied.
func VectorValues(v *pb.Value) (elems []*pb.Value, ok bool) {
	if !IsVector(v) {
		return nil, false
	}
	arr, isArray := v.GetMapValue().GetFields()[vectorValueKey].GetValueType().(*pb.Value_ArrayValue)
	if !isArray {
		return nil, false
	}
	elems = arr.ArrayValue.GetValues()
	for _, e := range elems {
		if !IsNumber(e) {
			return nil, false
		}
	}
	return elems, true
}

// Vector returns the elements of a vector value (see VectorValues) as doubles.
func Vector(v *pb.Value) ([]float64, bool) {
	elems, ok := VectorValues(v)
	if !ok {
		return nil, false
	}
	out := make([]float64, len(elems))
	for i, e := range elems {
		out[i] = NumberOf(e)
	}
	return out, true
}

// NumberOf returns a number value as a double: integers convert, anything else is 0.
func NumberOf(v *pb.Value) float64 {
	switch n := v.GetValueType().(type) {
	case *pb.Value_DoubleValue:
		return n.DoubleValue
	case *pb.Value_IntegerValue:
		return float64(n.IntegerValue)
	}
	return 0
}
