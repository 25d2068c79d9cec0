package index

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/value"
)

// FuzzCheck feeds arbitrary aggregation queries (unvalidated, as a fuzzer makes them) to Check,
// against the test declaration and declarations grown from it by Check's own suggestions:
//
//   - Check never panics and is deterministic: the same answer twice, and from a Set built anew;
//     a refusal is a FAILED_PRECONDITION *MissingIndexError naming exactly one index or override.
//   - A suggestion is never something the declaration has already, and adding the suggestions
//     one after the other ends in a declaration that accepts the query, within two per branch of
//     the filter (an equality-only branch on one field may need an order and then an array
//     config). For a filter of one branch, a declaration holding only a suggested index accepts
//     the query.
//   - Monotonicity: a declaration that gains the indexes and overrides another query suggests
//     still accepts every query it accepted before.
//   - An independent reference for the two extremes: a query that names no field (but the
//     document name) and finds no nearest vectors is accepted by every declaration, and one
//     that names a field is refused by a declaration that exempts every field of its collection
//     group and has no composite index.
func FuzzCheck(f *testing.F) {
	seeds := []*pb.StructuredAggregationQuery{
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", false, where(eq("a")), orderBy("z", false))}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", true, where(or(eq("a"), gt("b"))), orderBy("c", true))},
			Aggregations: []*pb.StructuredAggregationQuery_Aggregation{sum("n"), avg("m"), count()}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("docs", false, where(eq("color"), contains("tags")), nearest("embedding", 3))}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", false, where(eq("m.x"), eq("m.`x`")), orderBy("secret", false))}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", false, where(eq("secret"), contains("secret")))}},
		{QueryType: &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: from("items", false, where(gt("__name__")), orderBy("__name__", true))},
			Aggregations: []*pb.StructuredAggregationQuery_Aggregation{count()}},
	}
	var encoded [][]byte
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		encoded = append(encoded, b)
	}
	for i, b := range encoded {
		f.Add(b, encoded[(i+1)%len(encoded)])
	}
	decl, err := Parse([]byte(declaration))
	if err != nil {
		f.Fatal(err)
	}
	set := New(decl)
	f.Fuzz(func(t *testing.T, query, other []byte) {
		var q pb.StructuredAggregationQuery
		if proto.Unmarshal(query, &q) != nil {
			return
		}
		sq, aggs := q.GetStructuredQuery(), q.GetAggregations()

		err := set.Check(sq, aggs)
		checkRefusal(t, err, &q)
		if again := set.Check(sq, aggs); !sameAnswer(err, again) {
			t.Fatalf("Check answered %v, then %v\nquery %v", err, again, &q)
		}
		if anew := New(decl).Check(sq, aggs); !sameAnswer(err, anew) {
			t.Fatalf("Check answered %v, and from a Set built anew %v\nquery %v", err, anew, &q)
		}

		checkReference(t, &q, err)

		branches := dnfSize(sq.GetWhere())
		if branches > 64 {
			return // the suggestions for so many branches are too slow to follow for a fuzzer
		}
		served, ok := grow(t, decl, &q, 2*branches)
		if ok {
			if err := New(served).Check(sq, aggs); err != nil {
				t.Fatalf("with every suggestion added, Check still answers %v\nquery %v", err, &q)
			}
		}
		var missing *MissingIndexError
		if branches == 1 && errors.As(err, &missing) && missing.Index != nil {
			only := &File{Indexes: []Index{*missing.Index}}
			if only.Validate() == nil {
				if err2 := New(only).Check(sq, aggs); err2 != nil {
					t.Fatalf("a declaration of only the suggested index %+v refuses the query: %v\nquery %v", *missing.Index, err2, &q)
				}
			}
		}

		var o pb.StructuredAggregationQuery
		if proto.Unmarshal(other, &o) != nil {
			return
		}
		if dnfSize(o.GetStructuredQuery().GetWhere()) > 64 {
			return
		}
		for _, base := range []*File{decl, served} {
			if !ok && base == served {
				continue
			}
			if New(base).Check(sq, aggs) != nil {
				continue
			}
			more, _ := grow(t, base, &o, 2*dnfSize(o.GetStructuredQuery().GetWhere()))
			if err := New(more).Check(sq, aggs); err != nil {
				t.Fatalf("a declaration that accepted the query refuses it after gaining another query's suggestions: %v\nquery %v\nother query %v", err, &q, &o)
			}
		}
	})
}

// checkRefusal checks the form of Check's answer: nil, or a FAILED_PRECONDITION
// *MissingIndexError with exactly one of Index and Override.
func checkRefusal(t *testing.T, err error, q *pb.StructuredAggregationQuery) {
	t.Helper()
	if err == nil {
		return
	}
	var missing *MissingIndexError
	if !errors.As(err, &missing) {
		t.Fatalf("Check answered %T %v, want a *MissingIndexError\nquery %v", err, err, q)
	}
	if (missing.Index == nil) == (missing.Override == nil) {
		t.Fatalf("Check's refusal names index %v and override %v, want exactly one\nquery %v", missing.Index, missing.Override, q)
	}
	if s, _ := status.FromError(err); s.Code() != codes.FailedPrecondition {
		t.Fatalf("Check's refusal is %v, want FAILED_PRECONDITION\nquery %v", s.Code(), q)
	}
}

func sameAnswer(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

// grow adds Check's suggestions for q to a copy of decl, one at a time, until the declaration
// accepts q, and fails the test if a suggestion is already declared or more than limit are
// needed. ok is false when a suggestion does not validate (a suggestion for an invalid query,
// with a bad field path or vector, say, need not be valid): the declaration so far is returned.
func grow(t *testing.T, decl *File, q *pb.StructuredAggregationQuery, limit int) (_ *File, ok bool) {
	t.Helper()
	sq, aggs := q.GetStructuredQuery(), q.GetAggregations()
	g := &File{Indexes: slices.Clone(decl.Indexes), FieldOverrides: slices.Clone(decl.FieldOverrides)}
	for step := 0; ; step++ {
		err := New(g).Check(sq, aggs)
		if err == nil {
			return g, true
		}
		var missing *MissingIndexError
		if !errors.As(err, &missing) {
			t.Fatalf("Check answered %T %v, want a *MissingIndexError\nquery %v", err, err, q)
		}
		if step == limit {
			t.Fatalf("%d suggestions added, and Check still answers %v\nquery %v", step, err, q)
		}
		next, err := withSuggestion(g, missing)
		if err != nil {
			t.Fatalf("%v\nquery %v", err, q)
		}
		if next.Validate() != nil {
			return g, false
		}
		g = next
	}
}

// withSuggestion returns a copy of g with the index added or the override set (replacing the
// field's own override, if it has one); a suggestion g already has is an error.
func withSuggestion(g *File, missing *MissingIndexError) (*File, error) {
	next := &File{Indexes: slices.Clone(g.Indexes)}
	if ix := missing.Index; ix != nil {
		for _, have := range g.Indexes {
			if have.CollectionGroup == ix.CollectionGroup && have.QueryScope == ix.QueryScope && sameFields(have.Fields, ix.Fields) {
				return nil, fmt.Errorf("Check suggests index %+v, which the declaration has", *ix)
			}
		}
		next.Indexes = append(next.Indexes, *ix)
		next.FieldOverrides = slices.Clone(g.FieldOverrides)
		return next, nil
	}
	o := missing.Override
	for _, have := range g.FieldOverrides {
		if have.CollectionGroup == o.CollectionGroup && canonical(have.FieldPath) == o.FieldPath {
			if have.TTL == o.TTL && slices.Equal(have.Indexes, o.Indexes) {
				return nil, fmt.Errorf("Check suggests override %+v, which the declaration has", *o)
			}
			continue
		}
		next.FieldOverrides = append(next.FieldOverrides, have)
	}
	next.FieldOverrides = append(next.FieldOverrides, *o)
	return next, nil
}

func sameFields(a, b []Field) bool {
	return slices.EqualFunc(a, b, func(x, y Field) bool {
		if canonical(x.FieldPath) != canonical(y.FieldPath) || x.Order != y.Order || x.ArrayConfig != y.ArrayConfig {
			return false
		}
		if (x.VectorConfig == nil) != (y.VectorConfig == nil) {
			return false
		}
		return x.VectorConfig == nil || x.VectorConfig.Dimension == y.VectorConfig.Dimension
	})
}

// dnfSize is the number of branches of f's disjunctive normal form (an OR adds its operands'
// branches, any other composite multiplies them), at most maxBranches+1.
func dnfSize(f *pb.StructuredQuery_Filter) int {
	c := f.GetCompositeFilter()
	if c == nil {
		return 1
	}
	or := c.GetOp() == pb.StructuredQuery_CompositeFilter_OR
	n := 1
	if or && len(c.GetFilters()) > 0 {
		n = 0
	}
	for _, g := range c.GetFilters() {
		if or {
			n += dnfSize(g)
		} else {
			n *= dnfSize(g)
		}
		n = min(n, maxBranches+1)
	}
	return n
}

// checkReference checks err, Check's answer for q against the test declaration, and Check's
// answers for q against an empty declaration and one that exempts every field of q's collection
// group, against what follows from the fields q names alone. It judges only queries whose
// field paths all parse and whose filter Check reads whole (at most maxBranches branches).
func checkReference(t *testing.T, q *pb.StructuredAggregationQuery, err error) {
	t.Helper()
	sq, aggs := q.GetStructuredQuery(), q.GetAggregations()
	from := sq.GetFrom()
	if len(from) != 1 || from[0].GetCollectionId() == "" {
		// Kindless, or not one collection: no index is involved.
		for _, answer := range []error{err, New(nil).Check(sq, aggs)} {
			if answer != nil {
				t.Fatalf("a query over %d collections (or of no kind) refused: %v\nquery %v", len(from), answer, q)
			}
		}
		return
	}
	if dnfSize(sq.GetWhere()) > maxBranches {
		return
	}
	names, ok := namedFields(sq, aggs)
	if !ok {
		return
	}
	exemptAll := &File{FieldOverrides: []FieldOverride{{CollectionGroup: from[0].GetCollectionId(), FieldPath: "*", Indexes: []FieldOverrideItem{}}}}
	exempt := New(exemptAll).Check(sq, aggs)
	if len(names) == 0 && sq.GetFindNearest() == nil {
		for _, answer := range []error{err, New(nil).Check(sq, aggs), exempt} {
			if answer != nil {
				t.Fatalf("a query naming no field was refused: %v\nquery %v", answer, q)
			}
		}
		return
	}
	if exempt == nil {
		t.Fatalf("a declaration exempting every field accepted a query naming %q (nearest: %v)\nquery %v", names, sq.GetFindNearest() != nil, q)
	}
}

// namedFields lists the fields q's filters, orders and sums or averages name, other than the
// document name; ok is false when one of them does not parse as a field path.
func namedFields(sq *pb.StructuredQuery, aggs []*pb.StructuredAggregationQuery_Aggregation) (names []string, ok bool) {
	ok = true
	add := func(path string) {
		p, err := value.ParseFieldPath(path)
		if err != nil {
			ok = false
			return
		}
		if s := p.String(); s != nameField && !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	var walk func(f *pb.StructuredQuery_Filter)
	walk = func(f *pb.StructuredQuery_Filter) {
		switch f := f.GetFilterType().(type) {
		case *pb.StructuredQuery_Filter_CompositeFilter:
			for _, g := range f.CompositeFilter.GetFilters() {
				walk(g)
			}
		case *pb.StructuredQuery_Filter_FieldFilter:
			add(f.FieldFilter.GetField().GetFieldPath())
		case *pb.StructuredQuery_Filter_UnaryFilter:
			add(f.UnaryFilter.GetField().GetFieldPath())
		}
	}
	walk(sq.GetWhere())
	for _, o := range sq.GetOrderBy() {
		add(o.GetField().GetFieldPath())
	}
	for _, a := range aggs {
		switch op := a.GetOperator().(type) {
		case *pb.StructuredAggregationQuery_Aggregation_Sum_:
			add(op.Sum.GetField().GetFieldPath())
		case *pb.StructuredAggregationQuery_Aggregation_Avg_:
			add(op.Avg.GetField().GetFieldPath())
		}
	}
	if fn := sq.GetFindNearest(); fn != nil {
		add(fn.GetVectorField().GetFieldPath())
	}
	return names, ok
}
