package query

import (
	"math/bits"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// accumulator computes one aggregation over the documents added to it.
type accumulator struct {
	spec  *aggregator
	count int64 // documents (count) or numeric values (sum, avg) seen

	// Integers are summed exactly in 128 bits, so that a sum which overflows int64 only on the
	// way but ends within range is still an integer; doubles are summed apart, exactly too, and
	// the two are added and rounded once at the end.
	intHi     int64
	intLo     uint64
	floatSum  exactSum
	sawDouble bool
}

func (a *accumulator) add(doc *storage.Version) {
	if a.spec.kind == aggCount {
		a.count++
		return
	}
	if a.spec.field.isName {
		return // a name is not a number
	}
	v, ok := value.GetField(doc.Fields, a.spec.field.path)
	if !ok {
		return
	}
	switch t := v.GetValueType().(type) {
	case *pb.Value_IntegerValue:
		a.addInt(t.IntegerValue)
	case *pb.Value_DoubleValue:
		a.floatSum.add(t.DoubleValue)
		a.sawDouble = true
	default:
		return // non-numeric values, null included, are skipped
	}
	a.count++
}

// addInt adds x to the 128-bit two's complement sum intHi:intLo.
func (a *accumulator) addInt(x int64) {
	var carry uint64
	a.intLo, carry = bits.Add64(a.intLo, uint64(x), 0)
	a.intHi += x>>63 + int64(carry) // x>>63 is x's sign extension: 0 or -1
}

// intSum returns the integer sum and whether it fits in an int64.
func (a *accumulator) intSum() (int64, bool) {
	lo := int64(a.intLo)
	return lo, a.intHi == lo>>63
}

func (a *accumulator) result() *pb.Value {
	switch a.spec.kind {
	case aggCount:
		n := a.count
		if a.spec.upTo > 0 {
			n = min(n, a.spec.upTo)
		}
		return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: n}}
	case aggSum:
		if s, ok := a.intSum(); ok && !a.sawDouble {
			return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: s}}
		}
		return &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: a.floatSum.total(a.intHi, a.intLo)}}
	default:
		if a.count == 0 {
			return &pb.Value{ValueType: &pb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
		}
		// Production divides the rounded sum: the suite's average of 4.8, 5.9, 6.0, 7.1 and 8.2
		// is 32 / 5 = 6.4, where the exact quotient rounds to 6.3999999999999995.
		return &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: a.floatSum.total(a.intHi, a.intLo) / float64(a.count)}}
	}
}
