package index

import (
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// nameField is the document's key, indexed everywhere without being declared.
const nameField = "__name__"

// maxBranches bounds the disjunctive normal form of a filter. Production refuses queries with
// more than 30 disjunctions before indexes matter; the bound only keeps a hostile filter cheap.
const maxBranches = 256

// need is what one conjunction of a query needs from the indexes, after production's rules:
// equality-like filters first (in any order), then the fields the results are ordered by
// (explicit orders, then inequality fields in field path order), then aggregated fields, then
// a vector field.
type need struct {
	group    string
	scope    string
	equality []modeField // ==, IN, IS NULL, IS NaN (Ascending); array-contains(-any) (Contains)
	ordered  []orderedField
	summed   []string // fields a SUM or AVG reads that are not ordered already
	vector   string   // find_nearest's vector field, or ""
	dims     int      // the query vector's dimension
}

type modeField struct{ field, mode string } // mode: Ascending (any order serves) or Contains

type orderedField struct{ field, direction string }

// needsOf returns a query's needs, one per branch of its filter's disjunctive normal form, or
// nil when no index matters (a query with no field at all, or a kindless query).
func needsOf(sq *pb.StructuredQuery, aggs []*pb.StructuredAggregationQuery_Aggregation) []need {
	from := sq.GetFrom()
	if len(from) != 1 || from[0].GetCollectionId() == "" {
		return nil
	}
	base := need{group: from[0].GetCollectionId(), scope: ScopeCollection}
	if from[0].GetAllDescendants() {
		base.scope = ScopeCollectionGroup
	}
	var out []need
	for _, branch := range disjuncts(sq.GetWhere()) {
		n := base
		n.fill(branch, sq, aggs)
		out = append(out, n)
	}
	return out
}

func (n *need) fill(filters []*pb.StructuredQuery_Filter, sq *pb.StructuredQuery, aggs []*pb.StructuredAggregationQuery_Aggregation) {
	var inequality []string
	addEq := func(field, mode string) {
		if field == nameField || slices.Contains(n.equality, modeField{field, mode}) {
			return
		}
		n.equality = append(n.equality, modeField{field, mode})
	}
	for _, f := range filters {
		switch f := f.GetFilterType().(type) {
		case *pb.StructuredQuery_Filter_FieldFilter:
			field := canonical(f.FieldFilter.GetField().GetFieldPath())
			switch f.FieldFilter.GetOp() {
			case pb.StructuredQuery_FieldFilter_EQUAL, pb.StructuredQuery_FieldFilter_IN:
				addEq(field, Ascending)
			case pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY:
				addEq(field, Contains)
			default:
				inequality = append(inequality, field)
			}
		case *pb.StructuredQuery_Filter_UnaryFilter:
			field := canonical(f.UnaryFilter.GetField().GetFieldPath())
			switch f.UnaryFilter.GetOp() {
			case pb.StructuredQuery_UnaryFilter_IS_NULL, pb.StructuredQuery_UnaryFilter_IS_NAN:
				addEq(field, Ascending)
			default:
				inequality = append(inequality, field)
			}
		}
	}
	has := func(field string) bool {
		return field == nameField ||
			slices.Contains(n.equality, modeField{field, Ascending}) ||
			slices.ContainsFunc(n.ordered, func(o orderedField) bool { return o.field == field })
	}
	// An order on a field an equality fixes orders nothing; the name is in every index.
	for _, o := range sq.GetOrderBy() {
		field := canonical(o.GetField().GetFieldPath())
		if has(field) {
			continue
		}
		dir := Ascending
		if o.GetDirection() == pb.StructuredQuery_DESCENDING {
			dir = Descending
		}
		n.ordered = append(n.ordered, orderedField{field, dir})
	}
	// Inequality fields the orders leave out are ordered implicitly, ascending, by path.
	slices.Sort(inequality)
	for _, field := range inequality {
		if !has(field) {
			n.ordered = append(n.ordered, orderedField{field, Ascending})
		}
	}
	for _, a := range aggs {
		var field string
		switch op := a.GetOperator().(type) {
		case *pb.StructuredAggregationQuery_Aggregation_Sum_:
			field = op.Sum.GetField().GetFieldPath()
		case *pb.StructuredAggregationQuery_Aggregation_Avg_:
			field = op.Avg.GetField().GetFieldPath()
		default:
			continue
		}
		field = canonical(field)
		if !has(field) && !slices.Contains(n.summed, field) {
			n.summed = append(n.summed, field)
		}
	}
	slices.Sort(n.summed)
	if fn := sq.GetFindNearest(); fn != nil {
		n.vector = canonical(fn.GetVectorField().GetFieldPath())
		n.dims = vectorDimension(fn.GetQueryVector())
	}
}

// fields counts the distinct fields the need names.
func (n *need) fields() []string {
	var out []string
	add := func(f string) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, e := range n.equality {
		add(e.field)
	}
	for _, o := range n.ordered {
		add(o.field)
	}
	for _, s := range n.summed {
		add(s)
	}
	if n.vector != "" {
		add(n.vector)
	}
	return out
}

// vectorDimension is the length of a vector value ({__type__: "__vector__", value: [...]}), or 0.
func vectorDimension(v *pb.Value) int {
	return len(v.GetMapValue().GetFields()["value"].GetArrayValue().GetValues())
}

// disjuncts returns the filter's disjunctive normal form: an OR of ANDs of field and unary
// filters. A filter beyond maxBranches is cut short; the branches kept are still checked.
func disjuncts(f *pb.StructuredQuery_Filter) [][]*pb.StructuredQuery_Filter {
	switch t := f.GetFilterType().(type) {
	case nil:
		return [][]*pb.StructuredQuery_Filter{nil}
	case *pb.StructuredQuery_Filter_CompositeFilter:
		inner := t.CompositeFilter.GetFilters()
		if t.CompositeFilter.GetOp() == pb.StructuredQuery_CompositeFilter_OR {
			var out [][]*pb.StructuredQuery_Filter
			for _, g := range inner {
				out = append(out, disjuncts(g)...)
				if len(out) >= maxBranches {
					return out[:maxBranches]
				}
			}
			if len(out) == 0 {
				out = append(out, nil)
			}
			return out
		}
		out := [][]*pb.StructuredQuery_Filter{nil}
		for _, g := range inner {
			var next [][]*pb.StructuredQuery_Filter
			rights := disjuncts(g)
			for _, left := range out {
				for _, right := range rights {
					next = append(next, append(slices.Clip(left), right...))
					if len(next) >= maxBranches {
						break
					}
				}
				if len(next) >= maxBranches {
					break
				}
			}
			out = next
		}
		return out
	default:
		return [][]*pb.StructuredQuery_Filter{{f}}
	}
}

// describe renders a need's fields for messages: "x ==, y ASCENDING, SUM(z)".
func (n *need) describe() string {
	var parts []string
	for _, e := range n.equality {
		if e.mode == Contains {
			parts = append(parts, e.field+" array-contains")
		} else {
			parts = append(parts, e.field+" ==")
		}
	}
	for _, o := range n.ordered {
		parts = append(parts, o.field+" "+o.direction)
	}
	for _, s := range n.summed {
		parts = append(parts, "sum/avg("+s+")")
	}
	if n.vector != "" {
		parts = append(parts, "nearest("+n.vector+")")
	}
	return strings.Join(parts, ", ")
}
