package index

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/value"
)

// Set is a declaration prepared for checking queries. It is immutable and safe for concurrent use.
type Set struct {
	composite map[string][]compiled                // group + "/" + scope
	overrides map[string]map[string]*FieldOverride // group: canonical field path (or "*")
}

// compiled is an index with canonical field paths, without the trailing __name__ every index ends with.
type compiled struct{ fields []Field }

// New prepares f (which Parse has validated) for checking. A nil f is an empty declaration:
// only the automatic single-field indexes.
func New(f *File) *Set {
	s := &Set{composite: map[string][]compiled{}, overrides: map[string]map[string]*FieldOverride{}}
	if f == nil {
		return s
	}
	for _, ix := range f.Indexes {
		c := compiled{}
		for _, fd := range ix.Fields {
			fd.FieldPath = canonical(fd.FieldPath)
			c.fields = append(c.fields, fd)
		}
		if n := len(c.fields); n > 0 && c.fields[n-1].FieldPath == nameField && c.fields[n-1].VectorConfig == nil {
			c.fields = c.fields[:n-1]
		}
		if len(c.fields) == 0 {
			continue // only a declaration that failed validation has no fields but the name
		}
		key := ix.CollectionGroup + "/" + ix.QueryScope
		s.composite[key] = append(s.composite[key], c)
	}
	for i := range f.FieldOverrides {
		o := &f.FieldOverrides[i]
		if s.overrides[o.CollectionGroup] == nil {
			s.overrides[o.CollectionGroup] = map[string]*FieldOverride{}
		}
		s.overrides[o.CollectionGroup][canonical(o.FieldPath)] = o
	}
	return s
}

// MissingIndexError is the answer to a query no declared index serves. Exactly one of Index and
// Override is set: the composite (or vector) index to add, or the field override to add or
// replace. It is a FAILED_PRECONDITION status, as production answers.
type MissingIndexError struct {
	Index    *Index
	Override *FieldOverride
}

func (e *MissingIndexError) Error() string {
	if e.Index != nil {
		b, _ := json.Marshal(e.Index)
		return fmt.Sprintf(`The query requires an index. Add it to firestore.indexes.json under "indexes": %s`, b)
	}
	b, _ := json.Marshal(e.Override)
	return fmt.Sprintf(`The query requires a single-field index on %s in collection group %s. Set this field override in firestore.indexes.json under "fieldOverrides": %s`,
		e.Override.FieldPath, e.Override.CollectionGroup, b)
}

// GRPCStatus makes the error a FAILED_PRECONDITION status.
func (e *MissingIndexError) GRPCStatus() *status.Status {
	return status.New(codes.FailedPrecondition, e.Error())
}

// Check returns nil when the declared indexes serve the query with its aggregations (nil for a
// plain query), and otherwise a *MissingIndexError for the first branch of its filter that no
// index serves. The query must have been validated (the query package compiles it first).
func (s *Set) Check(sq *pb.StructuredQuery, aggs []*pb.StructuredAggregationQuery_Aggregation) error {
	for _, n := range needsOf(sq, aggs) {
		if err := s.check(&n); err != nil {
			return err
		}
	}
	return nil
}

func (s *Set) check(n *need) error {
	fields := n.fields()
	switch {
	case n.vector != "":
		if s.vectorServes(n) {
			return nil
		}
		return &MissingIndexError{Index: n.suggestion()}
	case len(fields) == 0:
		return nil
	case len(n.ordered) == 0 && len(n.summed) == 0:
		// Equalities alone: production merges the single-field indexes of the fields, and the
		// composite indexes whose fields are all fixed by equalities.
		if s.compositeServes(n, true) {
			return nil
		}
		if len(fields) == 1 {
			// One field, maybe both == and array-contains: suggest the mode it lacks.
			mode := n.equality[0].mode
			for _, e := range n.equality {
				if !s.single(n.group, e.field, n.scope, anyOrder(e.mode)) {
					mode = e.mode
					break
				}
			}
			return &MissingIndexError{Override: s.overrideSuggestion(n, fields[0], mode)}
		}
		return &MissingIndexError{Index: n.suggestion()}
	case len(fields) == 1:
		// One field ordered or summed: its single-field index in the query's direction.
		mode := ""
		if len(n.ordered) > 0 {
			mode = n.ordered[0].direction
		}
		if s.single(n.group, fields[0], n.scope, mode) || s.compositeServes(n, false) {
			return nil
		}
		if mode == "" {
			mode = Ascending
		}
		return &MissingIndexError{Override: s.overrideSuggestion(n, fields[0], mode)}
	default:
		if s.compositeServes(n, false) {
			return nil
		}
		return &MissingIndexError{Index: n.suggestion()}
	}
}

// override returns the field override that governs field in group: its own, its nearest map
// ancestor's, or the group's "*" override; nil when the automatic indexes apply.
func (s *Set) override(group, field string) *FieldOverride {
	byPath := s.overrides[group]
	if byPath == nil {
		return nil
	}
	if o := byPath[field]; o != nil {
		return o
	}
	if p, err := value.ParseFieldPath(field); err == nil {
		for i := len(p) - 1; i > 0; i-- {
			if o := byPath[p[:i].String()]; o != nil {
				return o
			}
		}
	}
	return byPath["*"]
}

// single reports whether field has a single-field index in scope with mode: Ascending,
// Descending, Contains, or "" for either order.
func (s *Set) single(group, field, scope, mode string) bool {
	o := s.override(group, field)
	if o == nil {
		// The automatic indexes: ascending, descending and array-contains, collection scope only.
		return scope == ScopeCollection
	}
	return slices.ContainsFunc(o.Indexes, func(it FieldOverrideItem) bool {
		return it.QueryScope == scope && modeMatches(mode, it.Order, it.ArrayConfig)
	})
}

func modeMatches(mode, order, array string) bool {
	switch mode {
	case Contains:
		return array == Contains
	case "":
		return order != ""
	default:
		return order == mode
	}
}

// compositeServes reports whether declared indexes serve the need: one index with the
// equality fields (in any order) followed by the ordered and summed fields, or several such
// indexes with the same tail whose equality fields together cover the query's (production's
// index merging). With singles, the equality fields' own single-field indexes count too
// (a query of equalities alone).
func (s *Set) compositeServes(n *need, singles bool) bool {
	covered := map[modeField]bool{}
	if singles {
		for _, e := range n.equality {
			if s.single(n.group, e.field, n.scope, anyOrder(e.mode)) {
				covered[e] = true
			}
		}
	}
	tailMatched := len(n.ordered)+len(n.summed) == 0
	for _, c := range s.composite[n.group+"/"+n.scope] {
		eq, ok := n.matchTail(c.fields)
		if !ok {
			continue
		}
		prefix, ok := n.equalityPrefix(eq)
		if !ok {
			continue
		}
		tailMatched = true
		for _, e := range prefix {
			covered[e] = true
		}
	}
	if !tailMatched {
		return false
	}
	for _, e := range n.equality {
		if !covered[e] {
			return false
		}
	}
	return true
}

// anyOrder is the single-field mode an equality needs: either order serves ==.
func anyOrder(mode string) string {
	if mode == Contains {
		return Contains
	}
	return ""
}

// matchTail checks that fields end with the need's ordered fields (all in the query's
// directions, or all reversed: the index read backwards) and then its summed fields (in any
// order), and returns the fields before them.
func (n *need) matchTail(fields []Field) ([]Field, bool) {
	k := len(fields) - len(n.ordered) - len(n.summed)
	if k < 0 {
		return nil, false
	}
	same, reversed := true, true
	for i, o := range n.ordered {
		f := fields[k+i]
		if f.FieldPath != o.field || f.Order == "" {
			return nil, false
		}
		same = same && f.Order == o.direction
		reversed = reversed && f.Order != o.direction
	}
	if !same && !reversed {
		return nil, false
	}
	var summed []string
	for _, f := range fields[k+len(n.ordered):] {
		if f.Order == "" {
			return nil, false
		}
		summed = append(summed, f.FieldPath)
	}
	slices.Sort(summed)
	if !slices.Equal(summed, n.summed) {
		return nil, false
	}
	return fields[:k], true
}

// equalityPrefix checks that every field is one of the need's equality fields, in a mode that
// serves it, each once.
func (n *need) equalityPrefix(fields []Field) ([]modeField, bool) {
	var out []modeField
	for _, f := range fields {
		if f.VectorConfig != nil {
			return nil, false
		}
		mode := Ascending
		if f.ArrayConfig != "" {
			mode = Contains
		}
		e := modeField{f.FieldPath, mode}
		if !slices.Contains(n.equality, e) || slices.Contains(out, e) {
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}

// vectorServes reports whether a vector index of the query vector's dimension on the vector
// field serves the need: its fields before the vector field are exactly the pre-filter's.
func (s *Set) vectorServes(n *need) bool {
	for _, c := range s.composite[n.group+"/"+n.scope] {
		last := c.fields[len(c.fields)-1]
		if last.VectorConfig == nil || last.FieldPath != n.vector || last.VectorConfig.Dimension != n.dims {
			continue
		}
		eq, ok := n.matchTail(c.fields[:len(c.fields)-1])
		if !ok {
			continue
		}
		if prefix, ok := n.equalityPrefix(eq); ok && len(prefix) == len(n.equality) {
			return true
		}
	}
	return false
}

// suggestion is the index that serves the need on its own.
func (n *need) suggestion() *Index {
	ix := &Index{CollectionGroup: n.group, QueryScope: n.scope}
	for _, e := range n.equality {
		if e.mode == Contains {
			ix.Fields = append(ix.Fields, Field{FieldPath: e.field, ArrayConfig: Contains})
		} else {
			ix.Fields = append(ix.Fields, Field{FieldPath: e.field, Order: Ascending})
		}
	}
	for _, o := range n.ordered {
		ix.Fields = append(ix.Fields, Field{FieldPath: o.field, Order: o.direction})
	}
	for _, f := range n.summed {
		ix.Fields = append(ix.Fields, Field{FieldPath: f, Order: Ascending})
	}
	if n.vector != "" {
		ix.Fields = append(ix.Fields, Field{FieldPath: n.vector, VectorConfig: &VectorConfig{Dimension: n.dims, Flat: &struct{}{}}})
	}
	return ix
}

// overrideSuggestion is the field override that keeps what governs field now (the automatic
// indexes, or an override's list) and adds the single-field index the need lacks.
func (s *Set) overrideSuggestion(n *need, field, mode string) *FieldOverride {
	items := []FieldOverrideItem{
		{QueryScope: ScopeCollection, Order: Ascending},
		{QueryScope: ScopeCollection, Order: Descending},
		{QueryScope: ScopeCollection, ArrayConfig: Contains},
	}
	ttl := false
	if o := s.override(n.group, field); o != nil {
		items = slices.Clone(o.Indexes)
		ttl = o.TTL && canonical(o.FieldPath) == field
	}
	want := FieldOverrideItem{QueryScope: n.scope, Order: mode}
	if mode == Contains {
		want = FieldOverrideItem{QueryScope: n.scope, ArrayConfig: Contains}
	}
	if !slices.Contains(items, want) {
		items = append(items, want)
	}
	if items == nil {
		items = []FieldOverrideItem{}
	}
	return &FieldOverride{CollectionGroup: n.group, FieldPath: field, TTL: ttl, Indexes: items}
}

// String describes the need, for tests' messages.
func (n *need) String() string {
	return fmt.Sprintf("%s (%s): %s", n.group, strings.ToLower(n.scope), n.describe())
}
