package query

import (
	"fmt"
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/value"
)

// filterCompiler compiles a where clause and records what the query-wide rules need to know.
type filterCompiler struct {
	db resource.Database
	// negations describes each !=, not_in, is_not_null and is_not_nan; production allows one.
	negations               []string
	hasNotIn, hasIn, hasAny bool
	hasOr                   bool
	// inequalities holds the fields, other than __name__, with range or inequality filters.
	inequalities map[string]fieldRef
}

func (c *filterCompiler) compile(f *pb.StructuredQuery_Filter, part string) (filter, error) {
	switch t := f.GetFilterType().(type) {
	case *pb.StructuredQuery_Filter_CompositeFilter:
		return c.composite(t.CompositeFilter, part+".composite_filter")
	case *pb.StructuredQuery_Filter_FieldFilter:
		return c.field(t.FieldFilter, part+".field_filter")
	case *pb.StructuredQuery_Filter_UnaryFilter:
		return c.unary(t.UnaryFilter, part+".unary_filter")
	}
	return nil, invalidf("%s: a filter needs one of composite_filter, field_filter or unary_filter", part)
}

func (c *filterCompiler) composite(cf *pb.StructuredQuery_CompositeFilter, part string) (filter, error) {
	op := cf.GetOp()
	if op != pb.StructuredQuery_CompositeFilter_AND && op != pb.StructuredQuery_CompositeFilter_OR {
		return nil, invalidf("%s.op: must be AND or OR, got %v", part, op)
	}
	if len(cf.GetFilters()) == 0 {
		return nil, invalidf("%s.filters: a composite filter needs at least one filter", part)
	}
	if op == pb.StructuredQuery_CompositeFilter_OR {
		c.hasOr = true
	}
	children := make([]filter, 0, len(cf.GetFilters()))
	for i, child := range cf.GetFilters() {
		f, err := c.compile(child, fmt.Sprintf("%s.filters[%d]", part, i))
		if err != nil {
			return nil, err
		}
		children = append(children, f)
	}
	if len(children) == 1 {
		return children[0], nil
	}
	if op == pb.StructuredQuery_CompositeFilter_OR {
		return orFilter(children), nil
	}
	return andFilter(children), nil
}

func (c *filterCompiler) field(ff *pb.StructuredQuery_FieldFilter, part string) (filter, error) {
	ref, err := parseFieldRef(ff.GetField(), part+".field")
	if err != nil {
		return nil, err
	}
	op := ff.GetOp()
	f := &fieldFilter{field: ref, op: op}
	switch op {
	case pb.StructuredQuery_FieldFilter_EQUAL:
	case pb.StructuredQuery_FieldFilter_LESS_THAN, pb.StructuredQuery_FieldFilter_LESS_THAN_OR_EQUAL,
		pb.StructuredQuery_FieldFilter_GREATER_THAN, pb.StructuredQuery_FieldFilter_GREATER_THAN_OR_EQUAL:
		c.inequality(ref)
	case pb.StructuredQuery_FieldFilter_NOT_EQUAL:
		c.negation(op, ref)
		c.inequality(ref)
	case pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS:
	case pb.StructuredQuery_FieldFilter_IN:
		c.hasIn = true
	case pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY:
		c.hasAny = true
	case pb.StructuredQuery_FieldFilter_NOT_IN:
		c.hasNotIn = true
		c.negation(op, ref)
		c.inequality(ref)
	default:
		return nil, invalidf("%s.op: %v is not a field filter operator", part, op)
	}
	if ref.isName && (op == pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS || op == pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY) {
		return nil, invalidf("%s: %v cannot filter on __name__: a document name is not an array", part, op)
	}
	if err := c.operands(f, ff.GetValue(), part+".value"); err != nil {
		return nil, err
	}
	return f, nil
}

// operands validates the filter's value and keeps copies of the comparable operands; copies
// keep the compiled query immutable whatever the caller does with its request afterwards.
func (c *filterCompiler) operands(f *fieldFilter, v *pb.Value, part string) error {
	if v.GetValueType() == nil {
		return invalidf("%s: a value is required", part)
	}
	list := []*pb.Value{v}
	isList := takesList(f.op)
	if isList {
		arr, ok := v.GetValueType().(*pb.Value_ArrayValue)
		if !ok || len(arr.ArrayValue.GetValues()) == 0 {
			return invalidf("%s: %v needs a non-empty array value, got %s", part, f.op, describeList(v))
		}
		list = arr.ArrayValue.GetValues()
		if f.op == pb.StructuredQuery_FieldFilter_NOT_IN && len(list) > maxNotInValues {
			return invalidf("%s: NOT_IN has %d values; the limit is %d", part, len(list), maxNotInValues)
		}
		if f.op != pb.StructuredQuery_FieldFilter_NOT_IN && len(list) > maxDisjunctions {
			return invalidf("%s: %v has %d values; the limit is %d", part, f.op, len(list), maxDisjunctions)
		}
	}
	f.values = len(list)
	for i, e := range list {
		at := part
		if isList {
			at = fmt.Sprintf("%s.array_value.values[%d]", part, i)
		}
		if f.field.isName {
			// parseReference validates the name, admitting numeric ids that stored values may
			// not hold.
			path, err := parseReference(c.db, e, at)
			if err != nil {
				return err
			}
			f.names = append(f.names, path)
			continue
		}
		if err := value.ValidateValue(e); err != nil {
			return invalidf("%s: %v", at, err)
		}
		if f.op == pb.StructuredQuery_FieldFilter_NOT_IN && value.IsNull(e) {
			f.never = true // x != null is never true
		}
		if keepsOperand(f.op, e) {
			f.operands = append(f.operands, proto.Clone(e).(*pb.Value))
		}
	}
	if len(f.operands) == 0 && !f.field.isName && !negates(f.op) {
		f.never = true
	}
	return nil
}

// keepsOperand reports whether e takes part in op's comparisons. Production never matches null
// or NaN through a comparison, so those operands are dropped; only != and not_in keep NaN, to
// exclude the documents whose field is NaN (null fields they exclude anyway).
func keepsOperand(op pb.StructuredQuery_FieldFilter_Operator, e *pb.Value) bool {
	switch {
	case value.IsNull(e):
		return false
	case value.IsNaN(e):
		return negates(op)
	}
	return true
}

func negates(op pb.StructuredQuery_FieldFilter_Operator) bool {
	return op == pb.StructuredQuery_FieldFilter_NOT_EQUAL || op == pb.StructuredQuery_FieldFilter_NOT_IN
}

// takesList reports whether op compares with each value of an array operand.
func takesList(op pb.StructuredQuery_FieldFilter_Operator) bool {
	switch op {
	case pb.StructuredQuery_FieldFilter_IN, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY, pb.StructuredQuery_FieldFilter_NOT_IN:
		return true
	}
	return false
}

func describeList(v *pb.Value) string {
	if _, ok := v.GetValueType().(*pb.Value_ArrayValue); ok {
		return "an empty array"
	}
	return kindOf(v)
}

func (c *filterCompiler) unary(uf *pb.StructuredQuery_UnaryFilter, part string) (filter, error) {
	ref, err := parseFieldRef(uf.GetField(), part+".field")
	if err != nil {
		return nil, err
	}
	op := uf.GetOp()
	switch op {
	case pb.StructuredQuery_UnaryFilter_IS_NULL, pb.StructuredQuery_UnaryFilter_IS_NAN:
	case pb.StructuredQuery_UnaryFilter_IS_NOT_NULL, pb.StructuredQuery_UnaryFilter_IS_NOT_NAN:
		c.negation(op, ref)
		c.inequality(ref)
	default:
		return nil, invalidf("%s.op: %v is not a unary filter operator", part, op)
	}
	return &unaryFilter{field: ref, op: op}, nil
}

func (c *filterCompiler) negation(op fmt.Stringer, ref fieldRef) {
	c.negations = append(c.negations, fmt.Sprintf("%v on %s", op, ref))
}

func (c *filterCompiler) inequality(ref fieldRef) {
	if ref.isName {
		return // __name__ is always ordered last anyway
	}
	if c.inequalities == nil {
		c.inequalities = make(map[string]fieldRef)
	}
	c.inequalities[ref.key()] = ref
}

// inequalityFields lists the inequality fields in field path order, the order in which
// production appends them to the ordering.
func (c *filterCompiler) inequalityFields() []fieldRef {
	out := make([]fieldRef, 0, len(c.inequalities))
	for _, f := range c.inequalities {
		out = append(out, f)
	}
	slices.SortFunc(out, compareFieldRefs)
	return out
}

// checkQueryRules enforces production's query-wide limits on the compiled filter f. orders is
// the number of explicit order_by clauses and parentLevel is 1 when the queried collection is
// below a document.
func (c *filterCompiler) checkQueryRules(f filter, orders, parentLevel int) error {
	if len(c.negations) > 1 {
		return invalidf("where: a query may contain only one NOT_EQUAL, NOT_IN, IS_NOT_NULL or IS_NOT_NAN filter, found %s", strings.Join(c.negations, ", "))
	}
	if c.hasNotIn && (c.hasIn || c.hasAny || c.hasOr) {
		return invalidf("where: NOT_IN cannot be combined with IN, ARRAY_CONTAINS_ANY or an OR filter in the same query")
	}
	if n := len(c.inequalities); n > maxInequalityFields {
		names := make([]string, 0, n)
		for _, r := range c.inequalityFields() {
			names = append(names, r.String())
		}
		return invalidf("where: range and inequality filters are on %d fields (%s); the limit is %d", n, strings.Join(names, ", "), maxInequalityFields)
	}
	if f == nil {
		return nil
	}
	if n := f.disjunctions(); n > maxDisjunctions {
		return invalidf("where: the filter has more than %d disjunctions in disjunctive normal form (IN and ARRAY_CONTAINS_ANY count one per value)", maxDisjunctions)
	}
	for _, t := range f.terms() {
		if t.arrayContains > 1 {
			return invalidf("where: a disjunction may contain only one ARRAY_CONTAINS or ARRAY_CONTAINS_ANY filter")
		}
		if size := t.filters + orders + parentLevel; size > maxTermSize {
			return invalidf("where: a disjunction has %d filters, %d orders and %d parent level; their sum %d exceeds the limit of %d", t.filters, orders, parentLevel, size, maxTermSize)
		}
	}
	return nil
}
