package value

import pb "cloud.google.com/go/firestore/apiv1/firestorepb"

// Vector returns the elements of a vector value as doubles: v must be a map whose "__type__"
// is "__vector__" and whose "value" is an array of numbers only, as production stores
// embeddings. ok is false for anything else.
func Vector(v *pb.Value) (elems []float64, ok bool) {
	if !IsVector(v) {
		return nil, false
	}
	arr, isArray := v.GetMapValue().GetFields()[vectorValueKey].GetValueType().(*pb.Value_ArrayValue)
	if !isArray {
		return nil, false
	}
	values := arr.ArrayValue.GetValues()
	elems = make([]float64, len(values))
	for i, e := range values {
		switch n := e.GetValueType().(type) {
		case *pb.Value_DoubleValue:
			elems[i] = n.DoubleValue
		case *pb.Value_IntegerValue:
			elems[i] = float64(n.IntegerValue)
		default:
			return nil, false
		}
	}
	return elems, true
}
