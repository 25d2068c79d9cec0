package value

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// Type ranks, in Firestore's cross-type order. Integers and doubles share RankNumber because
// they are compared numerically with each other.
const (
	RankNull = iota
	RankBoolean
	RankNumber
	RankTimestamp
	RankString
	RankBytes
	RankReference
	RankGeoPoint
	RankArray
	RankVector
	RankMap
	// RankUnstorable covers value kinds that are only meaningful inside requests (field
	// references, functions, pipelines); they sort after every storable value so the order
	// stays total even for input that validation would reject.
	RankUnstorable
	// RankUnset is a nil value or one with no type set; it sorts last.
	RankUnset
)

// Keys of the map encoding of a vector value.
const (
	vectorTypeKey   = "__type__"
	vectorTypeValue = "__vector__"
	vectorValueKey  = "value"
)

// TypeOrder returns the rank of v's type in Firestore's cross-type order (one of the Rank
// constants).
func TypeOrder(v *pb.Value) int {
	switch v.GetValueType().(type) {
	case *pb.Value_NullValue:
		return RankNull
	case *pb.Value_BooleanValue:
		return RankBoolean
	case *pb.Value_IntegerValue, *pb.Value_DoubleValue:
		return RankNumber
	case *pb.Value_TimestampValue:
		return RankTimestamp
	case *pb.Value_StringValue:
		return RankString
	case *pb.Value_BytesValue:
		return RankBytes
	case *pb.Value_ReferenceValue:
		return RankReference
	case *pb.Value_GeoPointValue:
		return RankGeoPoint
	case *pb.Value_ArrayValue:
		return RankArray
	case *pb.Value_MapValue:
		if IsVector(v) {
			return RankVector
		}
		return RankMap
	case nil:
		return RankUnset
	default:
		return RankUnstorable
	}
}

// IsNull reports whether v is the null value.
func IsNull(v *pb.Value) bool {
	_, ok := v.GetValueType().(*pb.Value_NullValue)
	return ok
}

// IsNumber reports whether v is an integer or a double.
func IsNumber(v *pb.Value) bool {
	switch v.GetValueType().(type) {
	case *pb.Value_IntegerValue, *pb.Value_DoubleValue:
		return true
	}
	return false
}

// IsNaN reports whether v is a double NaN.
func IsNaN(v *pb.Value) bool {
	d, ok := v.GetValueType().(*pb.Value_DoubleValue)
	return ok && math.IsNaN(d.DoubleValue)
}

// IsVector reports whether v is a vector: a map whose "__type__" entry is the string "__vector__".
func IsVector(v *pb.Value) bool {
	m := v.GetMapValue()
	if m == nil {
		return false
	}
	t, ok := m.GetFields()[vectorTypeKey]
	return ok && t.GetStringValue() == vectorTypeValue
}

// Equal reports whether a and b are equal in Firestore's order: 1 equals 1.0, -0.0 equals 0 and
// NaN equals NaN. Use FieldsEqual to ask whether stored data is bit-for-bit the same.
func Equal(a, b *pb.Value) bool {
	return Compare(a, b) == 0
}

// Compare orders a and b as Firestore does, returning -1, 0 or +1. The order is total: values of
// different types are ordered by TypeOrder, and NaN sorts before every other number and equal
// to itself.
func Compare(a, b *pb.Value) int {
	ra, rb := TypeOrder(a), TypeOrder(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case RankNull, RankUnset:
		return 0
	case RankBoolean:
		return compareBools(a.GetBooleanValue(), b.GetBooleanValue())
	case RankNumber:
		return compareNumbers(a, b)
	case RankTimestamp:
		ta, tb := a.GetTimestampValue(), b.GetTimestampValue()
		if c := cmp.Compare(ta.GetSeconds(), tb.GetSeconds()); c != 0 {
			return c
		}
		return cmp.Compare(ta.GetNanos(), tb.GetNanos())
	case RankString:
		return strings.Compare(a.GetStringValue(), b.GetStringValue())
	case RankBytes:
		return bytes.Compare(a.GetBytesValue(), b.GetBytesValue())
	case RankReference:
		return compareReferences(a.GetReferenceValue(), b.GetReferenceValue())
	case RankGeoPoint:
		ga, gb := a.GetGeoPointValue(), b.GetGeoPointValue()
		if c := compareFloats(ga.GetLatitude(), gb.GetLatitude()); c != 0 {
			return c
		}
		return compareFloats(ga.GetLongitude(), gb.GetLongitude())
	case RankArray:
		return compareArrays(a.GetArrayValue().GetValues(), b.GetArrayValue().GetValues())
	case RankVector:
		va := a.GetMapValue().GetFields()[vectorValueKey].GetArrayValue().GetValues()
		vb := b.GetMapValue().GetFields()[vectorValueKey].GetArrayValue().GetValues()
		if c := cmp.Compare(len(va), len(vb)); c != 0 {
			return c
		}
		return compareArrays(va, vb)
	case RankMap:
		return compareMaps(a.GetMapValue().GetFields(), b.GetMapValue().GetFields())
	default:
		return compareUnstorable(a, b)
	}
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// compareNumbers compares two numbers exactly, without rounding integers to doubles: 2^53+1 is
// greater than the double 2^53 even though float64(2^53+1) == 2^53.
func compareNumbers(a, b *pb.Value) int {
	ai, aIsInt := a.GetValueType().(*pb.Value_IntegerValue)
	bi, bIsInt := b.GetValueType().(*pb.Value_IntegerValue)
	switch {
	case aIsInt && bIsInt:
		return cmp.Compare(ai.IntegerValue, bi.IntegerValue)
	case aIsInt:
		return compareIntDouble(ai.IntegerValue, b.GetDoubleValue())
	case bIsInt:
		return -compareIntDouble(bi.IntegerValue, a.GetDoubleValue())
	default:
		return compareFloats(a.GetDoubleValue(), b.GetDoubleValue())
	}
}

// compareFloats is a total order on doubles: NaN first (equal to itself), and -0.0 equal to 0.0.
func compareFloats(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an || bn:
		return compareBools(!an, !bn)
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// twoTo63 is 2^63, the first double above every int64.
const twoTo63 = 0x1p63

func compareIntDouble(i int64, d float64) int {
	switch {
	case math.IsNaN(d):
		return 1
	case d < -twoTo63:
		return 1
	case d >= twoTo63:
		return -1
	}
	// d is now within [-2^63, 2^63), so its integer part converts to int64 exactly.
	whole := math.Trunc(d)
	if c := cmp.Compare(i, int64(whole)); c != 0 {
		return c
	}
	return compareFloats(0, d-whole)
}

// compareReferences orders document names segment by segment, so "a/b" sorts before "a-c/b"
// even though '/' is a larger byte than '-'.
func compareReferences(a, b string) int {
	if a == b {
		return 0
	}
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}

func compareArrays(a, b []*pb.Value) int {
	for i := range min(len(a), len(b)) {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func compareMaps(a, b map[string]*pb.Value) int {
	ka, kb := sortedKeys(a), sortedKeys(b)
	for i := range min(len(ka), len(kb)) {
		if c := strings.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
		if c := Compare(a[ka[i]], b[kb[i]]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ka), len(kb))
}

func sortedKeys(m map[string]*pb.Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compareUnstorable gives request-only value kinds a deterministic order: by kind, then by
// their deterministic encoding. It only exists so that Compare is total on any input.
func compareUnstorable(a, b *pb.Value) int {
	if c := cmp.Compare(oneofNumber(a), oneofNumber(b)); c != 0 {
		return c
	}
	opts := proto.MarshalOptions{Deterministic: true}
	ea, errA := opts.Marshal(a)
	eb, errB := opts.Marshal(b)
	if errA != nil || errB != nil {
		return compareBools(errA == nil, errB == nil)
	}
	return bytes.Compare(ea, eb)
}

func oneofNumber(v *pb.Value) int {
	m := v.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("value_type")
	if od == nil {
		return 0
	}
	if fd := m.WhichOneof(od); fd != nil {
		return int(fd.Number())
	}
	return 0
}
