package value

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/internal/ids"
)

// Limits Firestore puts on stored values.
const (
	// MaxFieldNameBytes is the longest map key (field name) Firestore accepts.
	MaxFieldNameBytes = 1500
	// MaxDepth is how many maps and arrays may nest inside one another in a field's value; a
	// top-level map field is at depth 1.
	MaxDepth = 20
	// MaxVectorDimensions is the longest vector Firestore accepts.
	MaxVectorDimensions = 2048
)

// Seconds since the Unix epoch of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59Z, the range
// of timestamps Firestore stores.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// ValidateFields checks that a document's fields are storable. The error wraps ErrInvalidValue
// and names the offending field.
func ValidateFields(fields map[string]*pb.Value) error {
	return validateMapFields(fields, nil, 0, false)
}

// ValidateValue checks that v is storable as the value of a top-level field.
func ValidateValue(v *pb.Value) error {
	return validateValue(v, nil, 0)
}

// location is the path to the value being validated, kept as a chain so that the path is only
// formatted when there is an error to report.
type location struct {
	parent  *location
	key     string
	index   int
	isIndex bool
}

// String formats the location as a field path, with array elements as [i].
func (l *location) String() string {
	var parts []*location
	for p := l; p != nil; p = p.parent {
		parts = append(parts, p)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		switch {
		case p.isIndex:
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		case i == len(parts)-1:
			writeSegment(&b, p.key)
		default:
			b.WriteByte('.')
			writeSegment(&b, p.key)
		}
	}
	return b.String()
}

func invalid(loc *location, format string, args ...any) error {
	if loc == nil {
		return fmt.Errorf("%w: %s", ErrInvalidValue, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w at field %s: %s", ErrInvalidValue, loc, fmt.Sprintf(format, args...))
}

// validateValue checks v found at loc, where depth is the number of maps and arrays that
// contain it within its top-level field.
func validateValue(v *pb.Value, loc *location, depth int) error {
	switch t := v.GetValueType().(type) {
	case *pb.Value_NullValue, *pb.Value_BooleanValue, *pb.Value_IntegerValue, *pb.Value_DoubleValue, *pb.Value_BytesValue:
		return nil
	case *pb.Value_StringValue:
		if !utf8.ValidString(t.StringValue) {
			return invalid(loc, "a string value must be valid UTF-8")
		}
		return nil
	case *pb.Value_TimestampValue:
		return validateTimestamp(t, loc)
	case *pb.Value_ReferenceValue:
		if _, _, err := resource.ParseDocumentName(t.ReferenceValue); err != nil {
			return invalid(loc, "a reference value must be a document name: %v", err)
		}
		return nil
	case *pb.Value_GeoPointValue:
		lat, lng := t.GeoPointValue.GetLatitude(), t.GeoPointValue.GetLongitude()
		if !(lat >= -90 && lat <= 90) {
			return invalid(loc, "geo point latitude %v must be within [-90, 90]", lat)
		}
		if !(lng >= -180 && lng <= 180) {
			return invalid(loc, "geo point longitude %v must be within [-180, 180]", lng)
		}
		return nil
	case *pb.Value_ArrayValue:
		if depth+1 > MaxDepth {
			return invalid(loc, "maps and arrays nest more than %d levels deep", MaxDepth)
		}
		for i, e := range t.ArrayValue.GetValues() {
			elemLoc := &location{parent: loc, index: i, isIndex: true}
			if _, nested := e.GetValueType().(*pb.Value_ArrayValue); nested {
				return invalid(elemLoc, "an array cannot directly contain another array")
			}
			if err := validateValue(e, elemLoc, depth+1); err != nil {
				return err
			}
		}
		return nil
	case *pb.Value_MapValue:
		if depth+1 > MaxDepth {
			return invalid(loc, "maps and arrays nest more than %d levels deep", MaxDepth)
		}
		if IsVector(v) {
			if err := validateVector(t.MapValue.GetFields(), loc); err != nil {
				return err
			}
		}
		return validateMapFields(t.MapValue.GetFields(), loc, depth+1, IsVector(v))
	case nil:
		return invalid(loc, "the value has no type set")
	default:
		return invalid(loc, "%s cannot be stored in a document", typeName(v))
	}
}

// validateMapFields visits keys in sorted order so that, of several problems, the same one is
// always reported.
func validateMapFields(fields map[string]*pb.Value, loc *location, depth int, vector bool) error {
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		keyLoc := &location{parent: loc, key: k}
		switch {
		case k == "":
			return invalid(loc, "a field name must not be empty")
		case !utf8.ValidString(k):
			return invalid(loc, "field name %q must be valid UTF-8", k)
		case len(k) > MaxFieldNameBytes:
			return invalid(loc, "a field name is %d bytes, longer than the limit of %d", len(k), MaxFieldNameBytes)
		case ids.IsReserved(k) && !(vector && k == vectorTypeKey):
			return invalid(keyLoc, "field name %q is reserved: names of the form __.*__ are not allowed", k)
		}
		if err := validateValue(v, keyLoc, depth); err != nil {
			return err
		}
	}
	return nil
}

func validateTimestamp(t *pb.Value_TimestampValue, loc *location) error {
	secs, nanos := t.TimestampValue.GetSeconds(), t.TimestampValue.GetNanos()
	if nanos < 0 || nanos >= 1e9 {
		return invalid(loc, "timestamp nanos %d must be within [0, 999999999]", nanos)
	}
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return invalid(loc, "timestamp seconds %d must be within 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z", secs)
	}
	return nil
}

// validateVector checks the shape of a map that is a vector: apart from its type marker it
// holds only "value", an array of at most MaxVectorDimensions numbers.
func validateVector(fields map[string]*pb.Value, loc *location) error {
	for _, k := range sortedKeys(fields) {
		if k != vectorTypeKey && k != vectorValueKey {
			return invalid(loc, "a vector may only have the fields %q and %q, not %q", vectorTypeKey, vectorValueKey, k)
		}
	}
	valueLoc := &location{parent: loc, key: vectorValueKey}
	values, ok := fields[vectorValueKey].GetValueType().(*pb.Value_ArrayValue)
	if !ok {
		return invalid(valueLoc, "a vector's %q must be an array of numbers", vectorValueKey)
	}
	elems := values.ArrayValue.GetValues()
	if len(elems) > MaxVectorDimensions {
		return invalid(valueLoc, "a vector has %d dimensions, more than the limit of %d", len(elems), MaxVectorDimensions)
	}
	for i, e := range elems {
		if !IsNumber(e) {
			return invalid(&location{parent: valueLoc, index: i, isIndex: true}, "a vector element must be a number, not %s", typeName(e))
		}
	}
	return nil
}

// TruncateTimestamps rounds every timestamp in fields, however deeply nested, down to
// microseconds in place, as production does when it stores them.
func TruncateTimestamps(fields map[string]*pb.Value) {
	for _, v := range fields {
		truncateValue(v)
	}
}

func truncateValue(v *pb.Value) {
	switch t := v.GetValueType().(type) {
	case *pb.Value_TimestampValue:
		if ts := t.TimestampValue; ts != nil {
			ts.Nanos -= ts.Nanos % 1000
		}
	case *pb.Value_ArrayValue:
		for _, e := range t.ArrayValue.GetValues() {
			truncateValue(e)
		}
	case *pb.Value_MapValue:
		TruncateTimestamps(t.MapValue.GetFields())
	}
}
