package query

import (
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
)

// parseReference turns a value compared with __name__ into a document path in the queried
// database. Production accepts only reference values holding full document names.
func parseReference(db resource.Database, v *pb.Value, part string) ([]string, error) {
	ref, ok := v.GetValueType().(*pb.Value_ReferenceValue)
	if !ok {
		return nil, invalidf("%s: __name__ is compared with reference values (full document names), got %s", part, kindOf(v))
	}
	refDB, path, err := resource.ParseDocumentName(ref.ReferenceValue)
	if err != nil {
		return nil, invalidf("%s: reference must be a full document name %s/...: %v", part, db.DocumentsRoot(), err)
	}
	if refDB != db {
		return nil, invalidf("%s: reference %q is in database %q, not in the queried %q", part, ref.ReferenceValue, refDB.Name(), db.Name())
	}
	return path, nil
}

// kindOf names v's type as the proto field does, for error messages.
func kindOf(v *pb.Value) string {
	switch v.GetValueType().(type) {
	case nil:
		return "an empty value"
	case *pb.Value_NullValue:
		return "null_value"
	case *pb.Value_BooleanValue:
		return "boolean_value"
	case *pb.Value_IntegerValue:
		return "integer_value"
	case *pb.Value_DoubleValue:
		return "double_value"
	case *pb.Value_TimestampValue:
		return "timestamp_value"
	case *pb.Value_StringValue:
		return "string_value"
	case *pb.Value_BytesValue:
		return "bytes_value"
	case *pb.Value_ReferenceValue:
		return "reference_value"
	case *pb.Value_GeoPointValue:
		return "geo_point_value"
	case *pb.Value_ArrayValue:
		return "array_value"
	case *pb.Value_MapValue:
		return "map_value"
	default:
		return "a value kind that queries do not accept"
	}
}
