package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// Aggregation is a compiled aggregation query. It is immutable and safe for concurrent use.
type Aggregation struct {
	query *Query
	aggs  []aggregator
}

type aggregateKind int

const (
	aggCount aggregateKind = iota
	aggSum
	aggAvg
)

// aggregator is one compiled aggregation.
type aggregator struct {
	alias string
	kind  aggregateKind
	field fieldRef // the summed or averaged field
	upTo  int64    // count's bound; 0 when unbounded
}

// CompileAggregation validates an aggregation query as production Firestore does and compiles
// it for running in database db below parent.
func CompileAggregation(db resource.Database, parent []string, aq *pb.StructuredAggregationQuery) (*Aggregation, error) {
	sq := aq.GetStructuredQuery()
	if sq == nil {
		return nil, invalidf("structured_query: the query to aggregate over is required")
	}
	q, err := Compile(db, parent, sq)
	if err != nil {
		return nil, err
	}
	// Aggregations read fields the projection may leave out, and emit nothing themselves.
	inner := *q
	inner.project, inner.projection = false, nil

	specs := aq.GetAggregations()
	if len(specs) == 0 || len(specs) > maxAggregations {
		return nil, invalidf("aggregations: %d given; an aggregation query needs between 1 and %d", len(specs), maxAggregations)
	}
	a := &Aggregation{query: &inner, aggs: make([]aggregator, len(specs))}
	used := make(map[string]bool)
	for i, spec := range specs {
		part := fmt.Sprintf("aggregations[%d]", i)
		ag, err := compileAggregator(spec, part)
		if err != nil {
			return nil, err
		}
		if ag.alias != "" {
			if err := validateAlias(ag.alias); err != nil {
				return nil, invalidf("%s.alias %q: %v", part, ag.alias, err)
			}
			if used[ag.alias] {
				return nil, invalidf("%s.alias: %q is already the alias of an earlier aggregation; aliases must be unique", part, ag.alias)
			}
			used[ag.alias] = true
		}
		a.aggs[i] = ag
	}
	// Production names unnamed aggregations field_1, field_2, ... in order.
	next := 1
	for i := range a.aggs {
		if a.aggs[i].alias != "" {
			continue
		}
		for used[fmt.Sprintf("field_%d", next)] {
			next++
		}
		a.aggs[i].alias = fmt.Sprintf("field_%d", next)
		used[a.aggs[i].alias] = true
	}
	return a, nil
}

func compileAggregator(spec *pb.StructuredAggregationQuery_Aggregation, part string) (aggregator, error) {
	ag := aggregator{alias: spec.GetAlias()}
	switch op := spec.GetOperator().(type) {
	case *pb.StructuredAggregationQuery_Aggregation_Count_:
		ag.kind = aggCount
		if upTo := op.Count.GetUpTo(); upTo != nil {
			if upTo.GetValue() <= 0 {
				return ag, invalidf("%s.count.up_to must be greater than zero, got %d", part, upTo.GetValue())
			}
			ag.upTo = upTo.GetValue()
		}
	case *pb.StructuredAggregationQuery_Aggregation_Sum_:
		ag.kind = aggSum
		f, err := parseFieldRef(op.Sum.GetField(), part+".sum.field")
		if err != nil {
			return ag, err
		}
		ag.field = f
	case *pb.StructuredAggregationQuery_Aggregation_Avg_:
		ag.kind = aggAvg
		f, err := parseFieldRef(op.Avg.GetField(), part+".avg.field")
		if err != nil {
			return ag, err
		}
		ag.field = f
	default:
		return ag, invalidf("%s: an aggregation needs one of count, sum or avg", part)
	}
	return ag, nil
}

// validateAlias applies the rules of document field names, which aliases must follow.
func validateAlias(alias string) error {
	switch {
	case !utf8.ValidString(alias):
		return errors.New("must be valid UTF-8")
	case len(alias) > value.MaxFieldNameBytes:
		return fmt.Errorf("is %d bytes, longer than the limit of %d", len(alias), value.MaxFieldNameBytes)
	case len(alias) >= 4 && strings.HasPrefix(alias, "__") && strings.HasSuffix(alias, "__"):
		return errors.New("names of the form __.*__ are reserved")
	}
	return nil
}

// errStopScan ends an ordered run early once every aggregation has its answer.
var errStopScan = errors.New("aggregation complete")

// Run computes the aggregations over the query's results and returns each result by alias.
func (a *Aggregation) Run(ctx context.Context, src Source) (map[string]*pb.Value, error) {
	accs := make([]accumulator, len(a.aggs))
	for i := range accs {
		accs[i].spec = &a.aggs[i]
	}
	visit := func(doc *storage.Version) (stop bool) {
		for i := range accs {
			accs[i].add(doc)
		}
		return a.complete(accs)
	}
	var err error
	if a.query.offset == 0 && a.query.limit < 0 && a.query.nearest == nil {
		// Without offset or limit the result set does not depend on its order.
		err = a.query.scan(ctx, src, visit)
	} else {
		err = a.query.Run(ctx, src, func(doc *storage.Version) error {
			if visit(doc) {
				return errStopScan
			}
			return nil
		})
	}
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	out := make(map[string]*pb.Value, len(accs))
	for i := range accs {
		out[accs[i].spec.alias] = accs[i].result()
	}
	return out, nil
}

// complete reports whether reading more documents cannot change any result: only bounded
// counts that reached their bound are final before the end.
func (a *Aggregation) complete(accs []accumulator) bool {
	for i := range accs {
		if accs[i].spec.kind != aggCount || accs[i].spec.upTo == 0 || accs[i].count < accs[i].spec.upTo {
			return false
		}
	}
	return true
}
