package value

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/genproto/googleapis/type/latlng"
	"google.golang.org/protobuf/proto"
)

// fuzzBytes hands out a fuzz input piece by piece; once it is used up every read is zero, so any
// input builds some value.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzBytes) uint64() uint64 {
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

// pick returns one of choices, or, for the byte values past them, a raw value from more.
func pick[T any](r *fuzzBytes, choices []T, more func() T) T {
	if i := int(r.byte()); i < len(choices) {
		return choices[i]
	} else if i%2 == 0 {
		return more()
	}
	return choices[int(r.byte())%len(choices)]
}

var (
	edgeInts = []int64{0, 1, -1, 2, 3, -3, 1 << 53, 1<<53 + 1, -1<<53 - 1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1}
	// edgeDoubles are the doubles where numeric order is easy to get wrong: NaNs with other
	// payloads and signs, zeros, infinities, the int64 boundaries and the ends of exact integers.
	edgeDoubles = []float64{
		math.NaN(), math.Float64frombits(0x7ff8000000000001), math.Float64frombits(0xfff8000000000000),
		0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 1, -1, 0.5, -1.5, 2.5, -2.5, 3.5,
		1 << 53, 1<<53 + 2, 0x1p63, -0x1p63, math.Nextafter(0x1p63, 0), math.Nextafter(-0x1p63, math.Inf(-1)),
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
	}
	edgeStrings = []string{"", "a", "ab", "b", "é", "\uffff", "😀", "\x00", "a\x00", "\xff", "__type__", "__vector__", "value"}
	// edgeRefs differ in segments that are prefixes of others and in bytes below and above '/'.
	edgeRefs = []string{"a/b", "a/b/c/d", "a-c/b", "a/b-c", "a.b/c", "b/a", "a/bc", "a/b/c/d/e/f", "", "a", "a//b"}
	edgeKeys = []string{"a", "b", "c", "", "__type__", "value", "a.b", "é", "__x__"}
)

// genValue builds a value of any kind, storable or not, nested at most depth levels, from r.
// Nested values are never nil: a nil element is not a message protobuf can marshal.
func genValue(r *fuzzBytes, depth int) *pb.Value {
	switch k := r.byte() % 14; {
	case k == 0:
		return nullV()
	case k == 1:
		return boolV(r.byte()%2 == 1)
	case k == 2:
		return intV(pick(r, edgeInts, func() int64 { return int64(r.uint64()) }))
	case k == 3:
		return dblV(pick(r, edgeDoubles, func() float64 { return math.Float64frombits(r.uint64()) }))
	case k == 4:
		secs := pick(r, []int64{0, 1, -1, -62135596800, 253402300799, math.MaxInt64, math.MinInt64}, func() int64 { return int64(r.uint64()) })
		nanos := pick(r, []int32{0, 1, 999, 1000, 999999999, 1e9, -1}, func() int32 { return int32(r.uint64()) })
		if r.byte()%8 == 0 {
			return &pb.Value{ValueType: &pb.Value_TimestampValue{}}
		}
		return tsV(secs, nanos)
	case k == 5:
		return strV(genString(r))
	case k == 6:
		return bytesV([]byte(genString(r))...)
	case k == 7:
		ref := pick(r, edgeRefs, func() string { return genString(r) + "/" + genString(r) })
		if r.byte()%2 == 0 {
			return refV(ref) // a full document name
		}
		return &pb.Value{ValueType: &pb.Value_ReferenceValue{ReferenceValue: ref}}
	case k == 8:
		coord := func() float64 {
			return pick(r, []float64{0, 90, -90, 180, -180, 45.5, math.NaN(), math.Inf(1)}, func() float64 { return math.Float64frombits(r.uint64()) })
		}
		if r.byte()%8 == 0 {
			return &pb.Value{ValueType: &pb.Value_GeoPointValue{}}
		}
		return &pb.Value{ValueType: &pb.Value_GeoPointValue{GeoPointValue: &latlng.LatLng{Latitude: coord(), Longitude: coord()}}}
	case k == 9 && depth > 0:
		n := int(r.byte() % 4)
		values := make([]*pb.Value, n)
		for i := range values {
			values[i] = genValue(r, depth-1)
		}
		if n == 0 && r.byte()%4 == 0 {
			return &pb.Value{ValueType: &pb.Value_ArrayValue{}}
		}
		return arrV(values...)
	case k == 10 && depth > 0:
		n := int(r.byte() % 4)
		dims := make([]*pb.Value, n)
		for i := range dims {
			if r.byte()%4 == 0 {
				dims[i] = genValue(r, 0) // not necessarily a number: invalid, but still ordered
			} else {
				dims[i] = dblV(pick(r, edgeDoubles, func() float64 { return math.Float64frombits(r.uint64()) }))
			}
		}
		v := mapV(map[string]*pb.Value{"__type__": strV("__vector__"), "value": arrV(dims...)})
		if r.byte()%8 == 0 {
			v.GetMapValue().Fields[pick(r, edgeKeys, func() string { return genString(r) })] = genValue(r, 0)
		}
		return v
	case k == 11 && depth > 0:
		n := int(r.byte() % 4)
		fields := make(map[string]*pb.Value, n)
		for range n {
			fields[pick(r, edgeKeys, func() string { return genString(r) })] = genValue(r, depth-1)
		}
		if n == 0 && r.byte()%4 == 0 {
			return &pb.Value{ValueType: &pb.Value_MapValue{}}
		}
		return mapV(fields)
	case k == 12:
		if r.byte()%2 == 0 {
			return &pb.Value{ValueType: &pb.Value_FieldReferenceValue{FieldReferenceValue: genString(r)}}
		}
		return &pb.Value{ValueType: &pb.Value_FunctionValue{FunctionValue: &pb.Function{Name: genString(r)}}}
	case k == 13:
		return &pb.Value{}
	default:
		return intV(int64(k))
	}
}

func genString(r *fuzzBytes) string {
	return pick(r, edgeStrings, func() string {
		n := int(r.byte() % 8)
		s := make([]byte, 0, n)
		for range n {
			s = append(s, r.byte())
		}
		return string(s)
	})
}

// twin is a different value that Firestore's order holds equal to v, when there is an obvious
// one: the other numeric type, the other zero or NaN, a clone.
func twin(v *pb.Value) *pb.Value {
	switch t := v.GetValueType().(type) {
	case *pb.Value_IntegerValue:
		return dblV(float64(t.IntegerValue)) // equal only when exact; Compare still decides
	case *pb.Value_DoubleValue:
		d := t.DoubleValue
		switch {
		case math.IsNaN(d):
			return dblV(math.Float64frombits(math.Float64bits(d) ^ 1<<63))
		case d == 0:
			return dblV(math.Copysign(0, -math.Copysign(1, d)))
		case d >= -0x1p63 && d < 0x1p63 && d == math.Trunc(d):
			return intV(int64(d))
		}
	}
	if v == nil {
		return &pb.Value{}
	}
	return proto.Clone(v).(*pb.Value)
}

// genValues builds up to 6 values, some of them twins of the one before.
func genValues(data []byte) []*pb.Value {
	r := &fuzzBytes{b: data}
	var values []*pb.Value
	for len(r.b) > 0 && len(values) < 6 {
		switch b := r.byte(); {
		case b%8 == 7 && len(values) > 0:
			values = append(values, twin(values[len(values)-1]))
		case b%32 == 30:
			values = append(values, nil)
		default:
			values = append(values, genValue(r, 3))
		}
	}
	return values
}

// refNumber is an exact reference for numeric order: NaN first, then the real line, on which
// big.Float compares integers and doubles exactly (and -0 equals 0).
func refNumber(a, b *pb.Value) int {
	an, bn := IsNaN(a), IsNaN(b)
	if an || bn {
		return compareBools(!an, !bn)
	}
	exact := func(v *pb.Value) *big.Float {
		if i, ok := v.GetValueType().(*pb.Value_IntegerValue); ok {
			return new(big.Float).SetInt64(i.IntegerValue)
		}
		return new(big.Float).SetFloat64(v.GetDoubleValue())
	}
	return exact(a).Cmp(exact(b))
}

// checkPair checks what Compare must satisfy for any two values.
func checkPair(t *testing.T, a, b *pb.Value) {
	t.Helper()
	c := Compare(a, b)
	if c < -1 || c > 1 {
		t.Fatalf("Compare(%s, %s) = %d, not -1, 0 or 1", show(a), show(b), c)
	}
	if r := Compare(b, a); r != -c {
		t.Fatalf("Compare is not antisymmetric: Compare(%s, %s) = %d but reversed %d", show(a), show(b), c, r)
	}
	if Equal(a, b) != (c == 0) {
		t.Fatalf("Equal(%s, %s) = %v but Compare = %d", show(a), show(b), Equal(a, b), c)
	}
	if ra, rb := TypeOrder(a), TypeOrder(b); ra != rb && c != cmp.Compare(ra, rb) {
		t.Fatalf("Compare(%s, %s) = %d, but their types rank %d and %d", show(a), show(b), c, ra, rb)
	}
	switch {
	case IsNumber(a) && IsNumber(b):
		if want := refNumber(a, b); c != want {
			t.Fatalf("Compare(%s, %s) = %d, exact numeric order says %d", show(a), show(b), c, want)
		}
	case TypeOrder(a) == RankReference && TypeOrder(b) == RankReference:
		want := slices.Compare(strings.Split(a.GetReferenceValue(), "/"), strings.Split(b.GetReferenceValue(), "/"))
		if c != want {
			t.Fatalf("Compare(%s, %s) = %d, segment order says %d", show(a), show(b), c, want)
		}
	case TypeOrder(a) == RankString && TypeOrder(b) == RankString:
		if want := bytes.Compare([]byte(a.GetStringValue()), []byte(b.GetStringValue())); c != want {
			t.Fatalf("Compare(%s, %s) = %d, UTF-8 byte order says %d", show(a), show(b), c, want)
		}
	}
}

// checkEncoding checks that v survives its stored encoding (deterministic protobuf, as storage
// writes a document's fields): it decodes to an equal message that Compare, Size and validation
// treat as v, and encodes again to the same bytes.
func checkEncoding(t *testing.T, v *pb.Value) {
	t.Helper()
	if v == nil {
		return
	}
	opts := proto.MarshalOptions{Deterministic: true}
	enc, err := opts.Marshal(v)
	if err != nil {
		return // strings that are not UTF-8 cannot be encoded; validation refuses them first
	}
	got := &pb.Value{}
	if err := proto.Unmarshal(enc, got); err != nil {
		t.Fatalf("%s encodes to %x, which does not decode: %v", show(v), enc, err)
	}
	if !proto.Equal(got, v) {
		t.Fatalf("%s decodes as %s", show(v), show(got))
	}
	if Compare(got, v) != 0 || TypeOrder(got) != TypeOrder(v) {
		t.Fatalf("%s decodes as %s, which Compare sets apart (%d)", show(v), show(got), Compare(got, v))
	}
	if Size(got) != Size(v) {
		t.Fatalf("Size changes across encoding: %d then %d", Size(v), Size(got))
	}
	if e1, e2 := ValidateValue(v), ValidateValue(got); (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
		t.Fatalf("validation changes across encoding: %v then %v", e1, e2)
	}
	again, err := opts.Marshal(got)
	if err != nil || !bytes.Equal(again, enc) {
		t.Fatalf("%s encodes as %x, then as %x (%v)", show(v), enc, again, err)
	}
}

// FuzzCompare checks that Compare is a total order consistent with Firestore's type order and
// with exact numeric and segment-wise reference order, on values of every kind (storable or
// not) built from the input, and that each value's stored encoding round-trips.
func FuzzCompare(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 7, 2, 11})                        // NaN, then its twin of the other sign
	f.Add([]byte{2, 6, 7, 3, 16, 7})                     // 2^53+1 against 2^53 doubles
	f.Add([]byte{7, 2, 0, 7, 2, 1, 7, 0, 3})             // references a/b-c/b and a/b/c/d
	f.Add([]byte{9, 3, 2, 0, 2, 1, 10, 2, 0, 0, 0, 3})   // an array and a vector
	f.Add([]byte{11, 2, 4, 2, 4, 5, 3, 2, 0})            // a map holding __type__
	f.Add([]byte{12, 0, 2, 13, 30, 4, 0, 0, 0, 0, 0, 4}) // unstorable, unset, nil, timestamp
	f.Fuzz(func(t *testing.T, data []byte) {
		values := genValues(data)
		for _, v := range values {
			if Compare(v, v) != 0 {
				t.Fatalf("Compare(%s, itself) != 0", show(v))
			}
			_ = ValidateValue(v) // must not panic
			_ = Size(v)
			checkEncoding(t, v)
		}
		for _, a := range values {
			for _, b := range values {
				checkPair(t, a, b)
				for _, c := range values {
					ab, bc, ac := Compare(a, b), Compare(b, c), Compare(a, c)
					if ab <= 0 && bc <= 0 && ac > 0 {
						t.Fatalf("Compare is not transitive: %s <= %s <= %s, but the first is greater than the last", show(a), show(b), show(c))
					}
					if ab == 0 && ac != bc {
						t.Fatalf("%s and %s are equal, but compare %d and %d with %s", show(a), show(b), ac, bc, show(c))
					}
				}
			}
		}
	})
}

// FuzzCompareNumbers compares integers and doubles, each as either type where exact, against the
// exact order of big.Float (NaN first and equal to itself), and checks transitivity across them.
func FuzzCompareNumbers(f *testing.F) {
	f.Add(int64(1<<53+1), float64(1<<53), 1.5)
	f.Add(int64(math.MaxInt64), 0x1p63, math.Nextafter(0x1p63, 0))
	f.Add(int64(math.MinInt64), -0x1p63, math.Nextafter(-0x1p63, math.Inf(-1)))
	f.Add(int64(0), math.Copysign(0, -1), math.NaN())
	f.Add(int64(-3), -3.5, -2.5)
	f.Add(int64(7), math.Inf(1), math.Inf(-1))
	f.Fuzz(func(t *testing.T, i int64, d, e float64) {
		values := []*pb.Value{intV(i), dblV(d), dblV(e), dblV(float64(i)), dblV(math.Float64frombits(math.Float64bits(d) ^ 1))}
		for _, x := range []float64{d, e} {
			if x >= -0x1p63 && x < 0x1p63 {
				values = append(values, intV(int64(x)))
			}
		}
		for _, a := range values {
			for _, b := range values {
				checkPair(t, a, b)
				for _, c := range values {
					if Compare(a, b) <= 0 && Compare(b, c) <= 0 && Compare(a, c) > 0 {
						t.Fatalf("Compare is not transitive on %s <= %s <= %s", show(a), show(b), show(c))
					}
				}
			}
		}
	})
}
