package query

import (
	"math"
	"math/big"
)

// exactSum adds doubles without rounding: every finite double is an integer multiple of
// 2^-1074, so the sum is kept as that integer. The result is rounded once, which makes it
// independent of the order the documents come in and equal to the correctly rounded sum
// (where IEEE addition in document order gives, say, 35.699999999999996 for 35.7).
type exactSum struct {
	units big.Int // the sum of the finite values, in units of 2^-1074
	tmp   big.Int // scratch for one addend, kept to avoid an allocation per value

	// Infinities and NaN follow IEEE rules: any NaN, or both infinities, make the sum NaN.
	nan, posInf, negInf bool
}

// minExp is the exponent of the smallest positive double, 2^-1074.
const minExp = -1074

func (s *exactSum) add(x float64) {
	switch {
	case math.IsNaN(x):
		s.nan = true
		return
	case math.IsInf(x, 1):
		s.posInf = true
		return
	case math.IsInf(x, -1):
		s.negInf = true
		return
	case x == 0:
		return
	}
	frac, exp := math.Frexp(math.Abs(x)) // |x| = frac * 2^exp, frac in [0.5, 1)
	// frac * 2^53 is an integer for every double; shift it so that its unit is 2^-1074.
	mant := uint64(math.Ldexp(frac, 53))
	shift := exp - 53 - minExp
	s.tmp.SetUint64(mant)
	if shift > 0 {
		s.tmp.Lsh(&s.tmp, uint(shift))
	} else if shift < 0 {
		s.tmp.Rsh(&s.tmp, uint(-shift)) // drops only zero bits: subnormals are exact multiples
	}
	if x < 0 {
		s.units.Sub(&s.units, &s.tmp)
	} else {
		s.units.Add(&s.units, &s.tmp)
	}
}

// special returns the sum when an infinity or NaN decides it.
func (s *exactSum) special() (float64, bool) {
	switch {
	case s.nan || (s.posInf && s.negInf):
		return math.NaN(), true
	case s.posInf:
		return math.Inf(1), true
	case s.negInf:
		return math.Inf(-1), true
	}
	return 0, false
}

// total returns s + ints rounded once to the nearest double (ties to even), ±Inf when it is
// too large; ints is a 128-bit two's complement integer hi:lo.
func (s *exactSum) total(hi int64, lo uint64) float64 {
	if v, ok := s.special(); ok {
		return v
	}
	num := new(big.Int).Set(&s.units)
	if hi != 0 || lo != 0 {
		n := int128(hi, lo)
		num.Add(num, n.Lsh(n, -minExp))
	}
	f, _ := new(big.Rat).SetFrac(num, new(big.Int).Lsh(big.NewInt(1), -minExp)).Float64()
	return f
}

// int128 converts the two's complement hi:lo to a big.Int.
func int128(hi int64, lo uint64) *big.Int {
	n := new(big.Int).SetInt64(hi)
	n.Lsh(n, 64)
	return n.Add(n, new(big.Int).SetUint64(lo))
}
