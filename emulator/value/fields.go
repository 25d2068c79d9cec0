package value

import (
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// GetField returns the value at p, walking through nested maps. It reports false when a
// segment is missing or an intermediate value is not a map.
func GetField(fields map[string]*pb.Value, p FieldPath) (*pb.Value, bool) {
	if len(p) == 0 {
		return nil, false
	}
	for _, seg := range p[:len(p)-1] {
		m := fields[seg].GetMapValue()
		if m == nil {
			return nil, false
		}
		fields = m.GetFields()
	}
	v, ok := fields[p[len(p)-1]]
	return v, ok
}

// SetField stores v at p in fields, creating intermediate maps and replacing any non-map
// intermediate value with a map, as a write with an update mask does. It mutates fields and
// the nested maps on the way in place, and stores v itself, not a copy. A nil fields map or an
// empty path leaves everything unchanged.
func SetField(fields map[string]*pb.Value, p FieldPath, v *pb.Value) {
	if fields == nil || len(p) == 0 {
		return
	}
	for _, seg := range p[:len(p)-1] {
		m := fields[seg].GetMapValue()
		if m == nil {
			m = &pb.MapValue{}
			fields[seg] = &pb.Value{ValueType: &pb.Value_MapValue{MapValue: m}}
		}
		if m.Fields == nil {
			m.Fields = make(map[string]*pb.Value)
		}
		fields = m.Fields
	}
	fields[p[len(p)-1]] = v
}

// DeleteField removes the value at p, leaving its (possibly now empty) parent maps in place. It
// mutates fields in place and does nothing when the field is absent.
func DeleteField(fields map[string]*pb.Value, p FieldPath) {
	if len(p) == 0 {
		return
	}
	for _, seg := range p[:len(p)-1] {
		m := fields[seg].GetMapValue()
		if m == nil {
			return
		}
		fields = m.GetFields()
	}
	delete(fields, p[len(p)-1])
}

// CloneFields returns a deep copy of fields. The result is never nil, so it can be written to
// with SetField.
func CloneFields(fields map[string]*pb.Value) map[string]*pb.Value {
	out := make(map[string]*pb.Value, len(fields))
	for k, v := range fields {
		out[k] = proto.Clone(v).(*pb.Value)
	}
	return out
}

// FieldsEqual reports whether a and b hold exactly the same data: unlike Equal, the integer 1
// and the double 1.0 differ. It answers "did this write change the document?". A nil map
// equals an empty one.
func FieldsEqual(a, b map[string]*pb.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !proto.Equal(va, vb) {
			return false
		}
	}
	return true
}

// Project returns a deep copy of only the fields named by paths, as a field mask or a query
// projection does. Paths naming missing fields are skipped; a path inside another path adds
// nothing.
func Project(fields map[string]*pb.Value, paths []FieldPath) map[string]*pb.Value {
	out := make(map[string]*pb.Value)
	for _, p := range paths {
		if v, ok := GetField(fields, p); ok {
			SetField(out, p, proto.Clone(v).(*pb.Value))
		}
	}
	return out
}
