package value

import (
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/tally-dev/tally/emulator/resource"
)

// MaxDocumentSize is the largest document Firestore stores, 1 MiB. Reject a document when
// DocumentSize(path, fields) > MaxDocumentSize.
const MaxDocumentSize = 1 << 20

// documentOverhead is the fixed size Firestore adds to every document.
const documentOverhead = 32

// Size is the storage size of v under Firestore's storage-size rules: null and booleans 1 byte,
// numbers and timestamps 8, geo points 16, strings their UTF-8 length plus 1, bytes their
// length, references the size of the document name, arrays the sum of their elements, vectors 8
// bytes per dimension, and maps the sum over entries of the key's length plus 1 plus the value.
// Values that cannot be stored have size 0.
func Size(v *pb.Value) int {
	switch t := v.GetValueType().(type) {
	case *pb.Value_NullValue, *pb.Value_BooleanValue:
		return 1
	case *pb.Value_IntegerValue, *pb.Value_DoubleValue, *pb.Value_TimestampValue:
		return 8
	case *pb.Value_GeoPointValue:
		return 16
	case *pb.Value_StringValue:
		return len(t.StringValue) + 1
	case *pb.Value_BytesValue:
		return len(t.BytesValue)
	case *pb.Value_ReferenceValue:
		if _, path, err := resource.ParseDocumentName(t.ReferenceValue); err == nil {
			return resource.NameSize(path)
		}
		// Not a valid name, so validation rejects it; charge it as a plain string meanwhile.
		return len(t.ReferenceValue) + 1
	case *pb.Value_ArrayValue:
		n := 0
		for _, e := range t.ArrayValue.GetValues() {
			n += Size(e)
		}
		return n
	case *pb.Value_MapValue:
		if IsVector(v) {
			return 8 * len(t.MapValue.GetFields()[vectorValueKey].GetArrayValue().GetValues())
		}
		return FieldsSize(t.MapValue.GetFields())
	default:
		return 0
	}
}

// FieldsSize is the storage size of a document's fields (or a map's entries): for each field,
// the length of its name plus 1, plus the size of its value.
func FieldsSize(fields map[string]*pb.Value) int {
	n := 0
	for k, v := range fields {
		n += len(k) + 1 + Size(v)
	}
	return n
}

// DocumentSize is the storage size of the document at path holding fields: its name size, its
// fields and a fixed 32 bytes.
func DocumentSize(path []string, fields map[string]*pb.Value) int {
	return resource.NameSize(path) + FieldsSize(fields) + documentOverhead
}
