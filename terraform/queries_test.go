package terraform

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/shard"
)

// The tests here run tally's store against the emulator, record every query it sends and every
// write of its increments, and check the index declaration against them: each query has the
// composite index it needs (Firestore refuses the query in production otherwise), no query
// needs a single-field index the declaration removes, and the fields exempted from indexing are
// exactly those the increments write and no query needs.

// recorder records the queries and, while increments is set, the writes sent through a
// Firestore client connection.
type recorder struct {
	mu         sync.Mutex
	queries    []*pb.StructuredQuery
	aggregates map[*pb.StructuredQuery][]*pb.StructuredAggregationQuery_Aggregation
	increments bool
	written    map[string]map[string]bool // collection id: fields written by increments
}

func newRecorder() *recorder {
	return &recorder{aggregates: map[*pb.StructuredQuery][]*pb.StructuredAggregationQuery_Aggregation{}, written: map[string]map[string]bool{}}
}

func (r *recorder) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if c, ok := req.(*pb.CommitRequest); ok {
				r.commit(c)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			return &recordingStream{ClientStream: s, r: r}, err
		}),
	}
}

type recordingStream struct {
	grpc.ClientStream
	r *recorder
}

func (s *recordingStream) SendMsg(m any) error {
	s.r.mu.Lock()
	switch q := m.(type) {
	case *pb.RunQueryRequest:
		s.r.queries = append(s.r.queries, q.GetStructuredQuery())
	case *pb.RunAggregationQueryRequest:
		sq := q.GetStructuredAggregationQuery().GetStructuredQuery()
		s.r.queries = append(s.r.queries, sq)
		s.r.aggregates[sq] = q.GetStructuredAggregationQuery().GetAggregations()
	}
	s.r.mu.Unlock()
	return s.ClientStream.SendMsg(m)
}

func (r *recorder) commit(c *pb.CommitRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.increments {
		return
	}
	for _, w := range c.GetWrites() {
		doc := w.GetUpdate()
		if doc == nil {
			continue
		}
		parts := strings.Split(doc.GetName(), "/")
		group := parts[len(parts)-2]
		if r.written[group] == nil {
			r.written[group] = map[string]bool{}
		}
		if mask := w.GetUpdateMask(); mask != nil {
			for _, f := range mask.GetFieldPaths() {
				r.written[group][f] = true
			}
		} else {
			for f := range doc.GetFields() {
				r.written[group][f] = true
			}
		}
		for _, t := range w.GetUpdateTransforms() {
			r.written[group][t.GetFieldPath()] = true
		}
	}
}

// exercise runs every operation of the store that reads or writes Firestore.
func exercise(t *testing.T, rec *recorder) {
	em := emulatortest.Start(t, emulator.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-indexes", rec.dialOptions()...)
	s, err := shard.New(client, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"hot", "web-a", "web-b"} {
		_, err := s.Create(ctx, id, 4)
		must(err)
	}
	// The increments of existing counters: what every increment writes.
	rec.mu.Lock()
	rec.increments = true
	rec.mu.Unlock()
	_, err = s.Increment(ctx, "hot", 1, "")
	must(err)
	_, err = s.Increment(ctx, "hot", 2, "key-1")
	must(err)
	_, err = s.Increment(ctx, "hot", 2, "key-1") // a duplicate
	must(err)
	_, err = s.BatchIncrement(ctx, []shard.Delta{{CounterID: "hot", Delta: 3}, {CounterID: "web-a", Delta: 4}}, "batch-1")
	must(err)
	_, err = s.BatchIncrement(ctx, []shard.Delta{{CounterID: "web-a", Delta: 1}}, "")
	must(err)
	rec.mu.Lock()
	rec.increments = false
	rec.mu.Unlock()

	_, err = s.Increment(ctx, "implicit", 1, "") // creates the counter
	must(err)
	_, err = s.Get(ctx, "hot")
	must(err)
	_, err = s.BatchGet(ctx, []string{"hot", "web-a"})
	must(err)
	for _, values := range []bool{false, true} {
		for _, prefix := range []string{"", "web-"} {
			token := ""
			for {
				var page []*shard.Counter
				page, token, err = s.List(ctx, shard.ListOptions{Prefix: prefix, PageSize: 1, PageToken: token, WithValues: values})
				must(err)
				if token == "" || len(page) == 0 {
					break
				}
			}
		}
	}
	_, err = s.Resize(ctx, "hot", 8)
	must(err)
	_, err = s.Resize(ctx, "hot", 2)
	must(err)
	_, err = s.Reset(ctx, "web-a", "reset-1")
	must(err)
	must(s.Delete(ctx, "web-b"))
	if c, err := s.Get(ctx, "hot"); err != nil || c.Value != 6 {
		t.Fatalf("hot = %v, %v; want 6: the exercise did not run as meant", c, err)
	}
}

// indexNeed is what one query needs from the indexes.
type indexNeed struct {
	query     string // for messages
	q         *pb.StructuredQuery
	aggs      []*pb.StructuredAggregationQuery_Aggregation
	group     string
	scope     string   // COLLECTION or COLLECTION_GROUP
	equality  []string // fields compared for equality, in any order in an index
	ordered   []orderedField
	aggregate string // the field a SUM or AVG reads, or ""
}

type orderedField struct{ field, direction string }

// needOf derives a query's index needs, after Firestore's rules: equality filters first, then
// the fields ordered by (inequality filters imply an order), then an aggregated field.
func needOf(q *pb.StructuredQuery, aggs []*pb.StructuredAggregationQuery_Aggregation) (indexNeed, error) {
	if len(q.GetFrom()) != 1 {
		return indexNeed{}, fmt.Errorf("query over %d collections", len(q.GetFrom()))
	}
	n := indexNeed{query: q.String(), q: q, aggs: aggs, group: q.GetFrom()[0].GetCollectionId(), scope: "COLLECTION"}
	if q.GetFrom()[0].GetAllDescendants() {
		n.scope = "COLLECTION_GROUP"
	}
	var inequality []string
	var walk func(f *pb.StructuredQuery_Filter) error
	walk = func(f *pb.StructuredQuery_Filter) error {
		switch f := f.GetFilterType().(type) {
		case nil:
		case *pb.StructuredQuery_Filter_CompositeFilter:
			if f.CompositeFilter.GetOp() != pb.StructuredQuery_CompositeFilter_AND {
				return fmt.Errorf("an OR filter; the check knows only AND")
			}
			for _, inner := range f.CompositeFilter.GetFilters() {
				if err := walk(inner); err != nil {
					return err
				}
			}
		case *pb.StructuredQuery_Filter_FieldFilter:
			path := f.FieldFilter.GetField().GetFieldPath()
			switch f.FieldFilter.GetOp() {
			case pb.StructuredQuery_FieldFilter_EQUAL, pb.StructuredQuery_FieldFilter_IN:
				n.equality = append(n.equality, path)
			case pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS, pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS_ANY:
				return fmt.Errorf("array-contains on %s; the check knows only ordered fields", path)
			default:
				inequality = append(inequality, path)
			}
		case *pb.StructuredQuery_Filter_UnaryFilter:
			path := f.UnaryFilter.GetField().GetFieldPath()
			switch f.UnaryFilter.GetOp() {
			case pb.StructuredQuery_UnaryFilter_IS_NULL, pb.StructuredQuery_UnaryFilter_IS_NAN:
				n.equality = append(n.equality, path)
			default:
				inequality = append(inequality, path)
			}
		}
		return nil
	}
	if err := walk(q.GetWhere()); err != nil {
		return indexNeed{}, err
	}
	for _, o := range q.GetOrderBy() {
		if path := o.GetField().GetFieldPath(); path != "__name__" {
			dir := "ASCENDING"
			if o.GetDirection() == pb.StructuredQuery_DESCENDING {
				dir = "DESCENDING"
			}
			n.ordered = append(n.ordered, orderedField{path, dir})
		}
	}
	for _, f := range inequality {
		if !slices.ContainsFunc(n.ordered, func(o orderedField) bool { return o.field == f }) {
			n.ordered = append(n.ordered, orderedField{f, "ASCENDING"})
		}
	}
	for _, a := range aggs {
		switch op := a.GetOperator().(type) {
		case *pb.StructuredAggregationQuery_Aggregation_Sum_:
			n.aggregate = op.Sum.GetField().GetFieldPath()
		case *pb.StructuredAggregationQuery_Aggregation_Avg_:
			n.aggregate = op.Avg.GetField().GetFieldPath()
		}
	}
	if n.aggregate != "" && slices.ContainsFunc(n.ordered, func(o orderedField) bool { return o.field == n.aggregate }) {
		n.aggregate = "" // ordered already
	}
	sort.Strings(n.equality)
	return n, nil
}

// composite reports whether the query needs a composite index: it combines fields, beyond
// equalities alone (which Firestore serves by merging single-field indexes).
func (n indexNeed) composite() bool {
	fields := len(n.equality) + len(n.ordered)
	if n.aggregate != "" {
		fields++
	}
	return fields > 1 && (len(n.ordered) > 0 || n.aggregate != "")
}

// singleFields are the single-field indexes a query served without a composite index uses.
func (n indexNeed) singleFields() []string {
	out := append([]string{}, n.equality...)
	for _, o := range n.ordered {
		out = append(out, o.field)
	}
	if n.aggregate != "" {
		out = append(out, n.aggregate)
	}
	return out
}

// indexProblems checks the declaration against recorded queries and increment writes.
func indexProblems(decl *Indexes, needs []indexNeed, written map[string]map[string]bool) []string {
	var out []string
	set := index.New(decl)          // the emulator's rules decide whether the declaration serves a query
	singleUsed := map[string]bool{} // group/field whose single-field index a query uses
	for _, n := range needs {
		err := set.Check(n.q, n.aggs)
		if n.composite() {
			if err != nil {
				out = append(out, fmt.Sprintf("no declared composite index serves the query on %s (%s): equality %v, ordered %v, aggregating %q: %v:\n\t%s",
					n.group, n.scope, n.equality, n.ordered, n.aggregate, err, n.query))
			}
			continue
		}
		for _, f := range n.singleFields() {
			singleUsed[n.group+"/"+f] = true
		}
		if err != nil {
			out = append(out, fmt.Sprintf("the query on %s needs a single-field index on %s, which the declaration removes: %v:\n\t%s",
				n.group, strings.Join(n.singleFields(), ", "), err, n.query))
		}
	}
	exempt := map[string]bool{}
	for _, o := range decl.FieldOverrides {
		if len(o.Indexes) == 0 {
			exempt[o.CollectionGroup+"/"+o.FieldPath] = true
		}
	}
	for key := range exempt {
		group, field, _ := strings.Cut(key, "/")
		if !written[group][field] {
			out = append(out, fmt.Sprintf("the declaration exempts %s from indexing, but increments do not write it: keep exemptions to the fields written on every increment", key))
		}
	}
	for group, fields := range written {
		for field := range fields {
			key := group + "/" + field
			if !singleUsed[key] && !exempt[key] {
				out = append(out, fmt.Sprintf("increments write %s and no query uses its single-field index: exempt it in the declaration (fieldOverrides with \"indexes\": [])", key))
			}
		}
	}
	sort.Strings(out)
	return out
}

func recordedNeeds(t *testing.T, rec *recorder) []indexNeed {
	t.Helper()
	var needs []indexNeed
	for _, q := range rec.queries {
		n, err := needOf(q, rec.aggregates[q])
		if err != nil {
			t.Fatalf("a query the check cannot judge (%v): %v", err, q)
		}
		needs = append(needs, n)
	}
	return needs
}

func TestDeclaredIndexesServeTallysQueries(t *testing.T) {
	t.Parallel()
	decl, err := Declared()
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	exercise(t, rec)
	needs := recordedNeeds(t, rec)

	// The store's queries as design.md describes them; if tally adds one, this list and the
	// declaration grow together.
	kinds := map[string]bool{}
	for _, n := range needs {
		kinds[fmt.Sprintf("%s eq=%v ord=%v agg=%s", n.group, n.equality, n.ordered, n.aggregate)] = true
	}
	t.Logf("queries: %v; written by increments: %v", kinds, rec.written)
	for _, want := range []string{
		"shards eq=[generation] ord=[] agg=count",  // a counter's value
		"counters eq=[] ord=[{id ASCENDING}] agg=", // listing
		"shards eq=[] ord=[] agg=",                 // resize's scan and the shard count
	} {
		if !kinds[want] {
			t.Errorf("the exercise made no query %q; it made %v", want, kinds)
		}
	}
	if len(rec.written["shards"]) == 0 || len(rec.written[shard.TTLCollectionGroup]) == 0 {
		t.Errorf("increments wrote %v; want shards and %s records", rec.written, shard.TTLCollectionGroup)
	}
	for _, p := range indexProblems(decl, needs, rec.written) {
		t.Error(p)
	}
}

// TestIndexProblemsFail changes the declaration and expects the check to notice.
func TestIndexProblemsFail(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	exercise(t, rec)
	needs := recordedNeeds(t, rec)
	tests := []struct {
		name   string
		change func(*Indexes)
		want   string
	}{
		{"no composite index", func(d *Indexes) { d.Indexes = nil }, "no declared composite index serves the query on shards"},
		{"fields swapped", func(d *Indexes) { f := d.Indexes[0].Fields; f[0], f[1] = f[1], f[0] }, "no declared composite index"},
		{"collection group scope", func(d *Indexes) { d.Indexes[0].QueryScope = "COLLECTION_GROUP" }, "no declared composite index"},
		{"listing's field exempted", func(d *Indexes) {
			d.FieldOverrides = append(d.FieldOverrides, FieldOverride{CollectionGroup: "counters", FieldPath: "id", Indexes: []FieldOverrideItem{}})
		}, "needs a single-field index on id"},
		{"exempting a field increments do not write", func(d *Indexes) {
			d.FieldOverrides = append(d.FieldOverrides, FieldOverride{CollectionGroup: "counters", FieldPath: "shard_count", Indexes: []FieldOverrideItem{}})
		}, "increments do not write it"},
		{"an exemption missing", func(d *Indexes) {
			d.FieldOverrides = slices.DeleteFunc(d.FieldOverrides, func(o FieldOverride) bool { return o.CollectionGroup == "shards" && o.FieldPath == "attempt" })
		}, "increments write shards/attempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Declared()
			if err != nil {
				t.Fatal(err)
			}
			tt.change(d)
			problems := indexProblems(d, needs, rec.written)
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem containing %q; found %q", tt.want, problems)
		})
	}
}
