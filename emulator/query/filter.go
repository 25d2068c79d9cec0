package query

import (
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// filter is a compiled where clause.
type filter interface {
	matches(doc *storage.Version) bool
	// disjunctions counts the AND-terms of the filter's disjunctive normal form, saturating at
	// maxDisjunctions+1 so that deep nesting cannot overflow.
	disjunctions() int
	// terms lists the AND-terms of the normal form; call it only once disjunctions() is within
	// the limit.
	terms() []term
}

// term summarizes one AND-term of the disjunctive normal form, for the per-disjunction limits.
type term struct {
	filters       int
	arrayContains int
}

type andFilter []filter

func (f andFilter) matches(doc *storage.Version) bool {
	for _, c := range f {
		if !c.matches(doc) {
			return false
		}
	}
	return true
}

func (f andFilter) disjunctions() int {
	n := 1
	for _, c := range f {
		n = min(n*c.disjunctions(), maxDisjunctions+1)
	}
	return n
}

func (f andFilter) terms() []term {
	acc := []term{{}}
	for _, c := range f {
		var next []term
		for _, a := range acc {
			for _, b := range c.terms() {
				next = append(next, term{filters: a.filters + b.filters, arrayContains: a.arrayContains + b.arrayContains})
			}
		}
		acc = next
	}
	return acc
}

type orFilter []filter

func (f orFilter) matches(doc *storage.Version) bool {
	for _, c := range f {
		if c.matches(doc) {
			return true
		}
	}
	return false
}

func (f orFilter) disjunctions() int {
	n := 0
	for _, c := range f {
		n = min(n+c.disjunctions(), maxDisjunctions+1)
	}
	return n
}

func (f orFilter) terms() []term {
	var out []term
	for _, c := range f {
		out = append(out, c.terms()...)
	}
	return out
}

// fieldFilter compares a field, or the document's name, with an operand.
//
// Production never matches null or NaN through a comparison: == null, in [NaN] and
// array_contains null match nothing (IS_NULL and IS_NAN are the way to find them), and != and
// not_in never match a null field. Operands of that kind are therefore dropped at compile time.
type fieldFilter struct {
	field fieldRef
	op    pb.StructuredQuery_FieldFilter_Operator
	// operands holds the comparable values: the single operand of a comparison or
	// array_contains, or the array elements of in, not_in and array_contains_any.
	operands []*pb.Value
	// values is the number of values given, which is what the disjunction limit counts.
	values int
	// names holds the operand(s) as document paths when field is __name__.
	names [][]string
	// never marks a filter that cannot match, such as not_in with null among its values.
	never bool
}

func (f *fieldFilter) matches(doc *storage.Version) bool {
	if f.never {
		return false
	}
	if f.field.isName {
		return f.matchesName(doc.Path)
	}
	v, ok := value.GetField(doc.Fields, f.field.path)
	if !ok {
		return false
	}
	switch f.op {
	case pb.StructuredQuery_FieldFilter_EQUAL, pb.StructuredQuery_FieldFilter_IN:
		return contains(f.operands, v)
	case pb.StructuredQuery_FieldFilter_NOT_EQUAL, pb.StructuredQuery_FieldFilter_NOT_IN:
		return !value.IsNull(v) && !contains(f.operands, v)
	case pb.StructuredQuery_FieldFilter_LESS_THAN:
		return sameType(v, f.operands[0]) && value.Compare(v, f.operands[0]) < 0
	case pb.StructuredQuery_FieldFilter_LESS_THAN_OR_EQUAL:
		return sameType(v, f.operands[0]) && value.Compare(v, f.operands[0]) <= 0
	case pb.StructuredQuery_FieldFilter_GREATER_THAN:
		return sameType(v, f.operands[0]) && value.Compare(v, f.operands[0]) > 0
	case pb.StructuredQuery_FieldFilter_GREATER_THAN_OR_EQUAL:
		return sameType(v, f.operands[0]) && value.Compare(v, f.operands[0]) >= 0
	case pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY:
		for _, e := range v.GetArrayValue().GetValues() {
			if contains(f.operands, e) {
				return true
			}
		}
	}
	return false
}

// sameType reports whether a range comparison applies: ranges only match values of the
// operand's type class (numbers with numbers, strings with strings, ...).
func sameType(v, operand *pb.Value) bool {
	return value.TypeOrder(v) == value.TypeOrder(operand)
}

func contains(list []*pb.Value, v *pb.Value) bool {
	for _, e := range list {
		if value.Equal(e, v) {
			return true
		}
	}
	return false
}

func (f *fieldFilter) matchesName(path []string) bool {
	switch f.op {
	case pb.StructuredQuery_FieldFilter_EQUAL:
		return comparePaths(path, f.names[0]) == 0
	case pb.StructuredQuery_FieldFilter_NOT_EQUAL:
		return comparePaths(path, f.names[0]) != 0
	case pb.StructuredQuery_FieldFilter_LESS_THAN:
		return comparePaths(path, f.names[0]) < 0
	case pb.StructuredQuery_FieldFilter_LESS_THAN_OR_EQUAL:
		return comparePaths(path, f.names[0]) <= 0
	case pb.StructuredQuery_FieldFilter_GREATER_THAN:
		return comparePaths(path, f.names[0]) > 0
	case pb.StructuredQuery_FieldFilter_GREATER_THAN_OR_EQUAL:
		return comparePaths(path, f.names[0]) >= 0
	case pb.StructuredQuery_FieldFilter_IN:
		return f.nameListed(path)
	case pb.StructuredQuery_FieldFilter_NOT_IN:
		return !f.nameListed(path)
	}
	return false
}

func (f *fieldFilter) nameListed(path []string) bool {
	for _, n := range f.names {
		if comparePaths(path, n) == 0 {
			return true
		}
	}
	return false
}

func (f *fieldFilter) disjunctions() int {
	switch f.op {
	case pb.StructuredQuery_FieldFilter_IN, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY:
		return min(f.values, maxDisjunctions+1)
	}
	return 1
}

// terms expands in and array_contains_any into one equality or array_contains per value, as
// production does when it normalizes the filter.
func (f *fieldFilter) terms() []term {
	t := term{filters: 1}
	if f.op == pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS || f.op == pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY {
		t.arrayContains = 1
	}
	out := make([]term, f.disjunctions())
	for i := range out {
		out[i] = t
	}
	return out
}

// unaryFilter tests a field for null or NaN.
type unaryFilter struct {
	field fieldRef
	op    pb.StructuredQuery_UnaryFilter_Operator
}

func (f *unaryFilter) matches(doc *storage.Version) bool {
	if f.field.isName {
		// A name is never null or NaN.
		return f.op == pb.StructuredQuery_UnaryFilter_IS_NOT_NULL || f.op == pb.StructuredQuery_UnaryFilter_IS_NOT_NAN
	}
	v, ok := value.GetField(doc.Fields, f.field.path)
	if !ok {
		return false
	}
	switch f.op {
	case pb.StructuredQuery_UnaryFilter_IS_NULL:
		return value.IsNull(v)
	case pb.StructuredQuery_UnaryFilter_IS_NAN:
		return value.IsNaN(v)
	case pb.StructuredQuery_UnaryFilter_IS_NOT_NULL:
		return !value.IsNull(v)
	case pb.StructuredQuery_UnaryFilter_IS_NOT_NAN:
		// Like !=, "not NaN" never matches null: null compared with anything is undefined.
		return !value.IsNull(v) && !value.IsNaN(v)
	}
	return false
}

func (f *unaryFilter) disjunctions() int { return 1 }
func (f *unaryFilter) terms() []term     { return []term{{filters: 1}} }
