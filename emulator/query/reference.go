package query

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
)

// parseReference turns a value compared with __name__ into a document path in the queried
// database. Production accepts only reference values holding full document names; their
// document ids may also be numeric ids, __id<int64>__, which no stored document has but which
// sort before every other id: the Node.js client's recursive delete bounds a collection with
// them.
func parseReference(db resource.Database, v *pb.Value, part string) ([]string, error) {
	ref, ok := v.GetValueType().(*pb.Value_ReferenceValue)
	if !ok {
		return nil, invalidf("%s: __name__ is compared with reference values (full document names), got %s", part, kindOf(v))
	}
	refDB, path, err := parseDocumentName(ref.ReferenceValue)
	if err != nil {
		return nil, invalidf("%s: reference must be a full document name %s/...: %v", part, db.DocumentsRoot(), err)
	}
	if refDB != db {
		return nil, invalidf("%s: reference %q is in database %q, not in the queried %q", part, ref.ReferenceValue, refDB.Name(), db.Name())
	}
	return path, nil
}

// parseDocumentName is resource.ParseDocumentName that also admits numeric document ids.
func parseDocumentName(name string) (resource.Database, []string, error) {
	segs := strings.Split(name, "/")
	var numeric []int
	for i := 5; i < len(segs); i++ {
		// segs[5:] is the path: collection ids at even offsets, document ids at odd ones.
		if (i-5)%2 == 1 && isNumericID(segs[i]) {
			numeric = append(numeric, i)
			segs[i] = "0" // a valid id in its place for the parser
		}
	}
	if len(numeric) == 0 {
		return resource.ParseDocumentName(name)
	}
	db, path, err := resource.ParseDocumentName(strings.Join(segs, "/"))
	if err != nil {
		return db, nil, err
	}
	orig := strings.Split(name, "/")
	for _, i := range numeric {
		path[i-5] = orig[i]
	}
	return db, path, nil
}

// isNumericID reports whether id has the form __id<int64>__.
func isNumericID(id string) bool {
	_, ok := numericID(id)
	return ok
}

func numericID(id string) (int64, bool) {
	if len(id) < 7 || id[0] != '_' || !strings.HasPrefix(id, "__id") || !strings.HasSuffix(id, "__") {
		return 0, false
	}
	n, err := strconv.ParseInt(id[4:len(id)-2], 10, 64)
	return n, err == nil
}

// comparePaths orders document paths segment by segment, the order of document names:
// numeric ids first, by value, then the others in byte order.
func comparePaths(a, b []string) int {
	return slices.CompareFunc(a, b, compareSegments)
}

func compareSegments(a, b string) int {
	an, aNum := numericID(a)
	bn, bNum := numericID(b)
	switch {
	case aNum && bNum:
		return cmp.Compare(an, bn)
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(a, b)
}

// hasNumericID reports whether a path names a document no store holds, so that it cannot be a
// starting point of a scan in byte order.
func hasNumericID(path []string) bool {
	return slices.ContainsFunc(path, isNumericID)
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
