package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// This file fuzzes Compile and Run against a reference: a direct reading of the semantics the
// package documents (doc.go, filter.go), evaluated document by document over a small in-memory
// database, with no plans, heaps or compiled filters. Every query either fails to compile with
// ErrInvalid (INVALID_ARGUMENT at the server), or runs and returns exactly the documents the
// reference selects, in the reference's order, after offset and limit.

// fzBytes hands out a fuzz input piece by piece; once it is used up every read is zero.
type fzBytes struct{ b []byte }

func (r *fzBytes) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fzBytes) n(k int) int { return int(r.byte()) % k }

// fzPick returns one of common, or now and then one of rare: rare choices are what a query
// gets wrong, and a query with many of them tells only of its first.
func fzPick[T any](r *fzBytes, common, rare []T) T {
	b := r.byte()
	if b < 240 || len(rare) == 0 {
		return common[int(b)%len(common)]
	}
	return rare[int(b)%len(rare)]
}

// fzValues are the operands and field values the fuzzer combines: every type, and the numbers
// whose equality and order are subtle. fzOddValues are only accepted in some positions.
var (
	fzValues = []*pb.Value{
		nullv(), nanv(), dv(math.Copysign(0, -1)), iv(0), iv(1), dv(1), dv(1.5), iv(2), iv(-1), iv(math.MaxInt64),
		sv(""), sv("a"), sv("b"), bv(true), bv(false), bytesv("a"), tsv(0), tsv(1), geov(0, 0),
		refv("c/d1"), refv("c/d5"), refv("c/d1/c/n0"), refv("r/p/c/e0"),
		arrv(iv(1), iv(2)), arrv(sv("a"), nullv()), arrv(nanv()), arrv(), arrv(dv(2), sv("b")),
		mapv(F{"x": iv(1)}), mapv(F{"x": sv("a")}), mapv(F{}),
		mapv(F{"__type__": sv("__vector__"), "value": arrv(dv(1))}),
		arrv(refv("c/d1"), refv("c/d3")), arrv(refv("c/d2"), iv(1)), arrv(iv(1), nanv(), sv("b")),
		vecv(1, 0.5), vecv(3, 4), vecv(0, 0), vecv(-1, 2, 1), mapv(F{"__type__": sv("__vector__"), "value": arrv(iv(2), iv(-3))}),
	}
	fzOddValues = []*pb.Value{
		{ValueType: &pb.Value_ReferenceValue{ReferenceValue: "projects/q/databases/d/documents/c/d1"}},
		{ValueType: &pb.Value_ReferenceValue{ReferenceValue: "projects/p/databases/d/documents/c"}},
		{}, {ValueType: &pb.Value_FieldReferenceValue{FieldReferenceValue: "a"}},
		arrv(iv(1), iv(2), iv(3), iv(4), iv(5), iv(6), iv(7), iv(8), iv(9), iv(10), iv(11)),
		mapv(F{"__x__": iv(1)}), sv("\xff"),
	}
)

var (
	fzFields    = []string{"a", "b", "arr", "m", "m.x", "`we.ird`", "__name__", "missing", "a.b", "`a`"}
	fzOddFields = []string{"", "a..b", "__name__.x", "`", "a.", "\xff"}
)

func fzValue(r *fzBytes) *pb.Value { return proto.Clone(fzPick(r, fzValues, fzOddValues)).(*pb.Value) }

func fzRef(r *fzBytes) *pb.StructuredQuery_FieldReference {
	return &pb.StructuredQuery_FieldReference{FieldPath: fzPick(r, fzFields, fzOddFields)}
}

// The operators, and the unspecified one and one out of range.
var (
	fzFieldOps = []pb.StructuredQuery_FieldFilter_Operator{opLT, opLTE, opGT, opGTE, opEQ, opNE, opAC, opIn, opACA, opNotIn}
	fzUnaryOps = []pb.StructuredQuery_UnaryFilter_Operator{isNull, isNaN, isNotNull, isNotNaN}
)

func fzFilter(r *fzBytes, depth int) *pb.StructuredQuery_Filter {
	switch k := r.n(16); {
	case k < 8 || depth == 0:
		ff := &pb.StructuredQuery_FieldFilter{Field: fzRef(r), Op: fzPick(r, fzFieldOps, []pb.StructuredQuery_FieldFilter_Operator{0, 99}), Value: fzValue(r)}
		return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_FieldFilter{FieldFilter: ff}}
	case k < 11:
		op := fzPick(r, fzUnaryOps, []pb.StructuredQuery_UnaryFilter_Operator{0, 99})
		uf := &pb.StructuredQuery_UnaryFilter{Op: op, OperandType: &pb.StructuredQuery_UnaryFilter_Field{Field: fzRef(r)}}
		return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_UnaryFilter{UnaryFilter: uf}}
	case k < 15:
		op := fzPick(r, []pb.StructuredQuery_CompositeFilter_Operator{pb.StructuredQuery_CompositeFilter_AND, pb.StructuredQuery_CompositeFilter_OR}, []pb.StructuredQuery_CompositeFilter_Operator{0, 3})
		cf := &pb.StructuredQuery_CompositeFilter{Op: op}
		for range fzPick(r, []int{1, 2, 2, 3}, []int{0, 4}) {
			cf.Filters = append(cf.Filters, fzFilter(r, depth-1))
		}
		return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_CompositeFilter{CompositeFilter: cf}}
	default:
		return &pb.StructuredQuery_Filter{}
	}
}

func fzCursor(r *fzBytes) *pb.Cursor {
	if r.n(3) != 0 {
		return nil
	}
	c := &pb.Cursor{Before: r.n(2) == 0}
	for range fzPick(r, []int{1, 1, 2}, []int{0, 3, 5}) {
		c.Values = append(c.Values, fzValue(r))
	}
	return c
}

// fzQuery builds a structured query, and a parent, mostly valid, from r.
func fzQuery(r *fzBytes) ([]string, *pb.StructuredQuery) {
	parent := fzPick(r, [][]string{nil, nil, {"r", "p"}, {"c", "d1"}}, [][]string{{"c"}})
	sq := &pb.StructuredQuery{From: []*pb.StructuredQuery_CollectionSelector{{
		CollectionId:   fzPick(r, []string{"c", "c", "c", "other", "x"}, []string{"", "__c__", "a/b"}),
		AllDescendants: r.n(3) == 0,
	}}}
	if r.n(64) == 0 {
		sq.From = append(sq.From, sq.From[0])
	}
	if r.n(4) != 0 {
		sq.Where = fzFilter(r, 3)
	}
	for range fzPick(r, []int{0, 0, 1, 1, 2}, []int{3}) {
		dir := fzPick(r, []pb.StructuredQuery_Direction{pb.StructuredQuery_ASCENDING, pb.StructuredQuery_DESCENDING, 0}, []pb.StructuredQuery_Direction{7})
		sq.OrderBy = append(sq.OrderBy, &pb.StructuredQuery_Order{Field: fzRef(r), Direction: dir})
	}
	sq.StartAt, sq.EndAt = fzCursor(r), fzCursor(r)
	sq.Offset = fzPick(r, []int32{0, 0, 0, 1, 2}, []int32{-1, 100})
	if r.n(2) == 0 {
		sq.Limit = wrapperspb.Int32(fzPick(r, []int32{1, 2, 3, 5}, []int32{0, -1}))
	}
	if r.n(4) == 0 {
		sq.Select = &pb.StructuredQuery_Projection{}
		for range r.n(3) {
			sq.Select.Fields = append(sq.Select.Fields, fzRef(r))
		}
	}
	if r.n(4) == 0 {
		sq.FindNearest = fzNearest(r)
	}
	return parent, sq
}

// fzNearest builds a vector search, now and then with a limit, measure or query vector that
// production refuses.
func fzNearest(r *fzBytes) *pb.StructuredQuery_FindNearest {
	measures := []pb.StructuredQuery_FindNearest_DistanceMeasure{
		pb.StructuredQuery_FindNearest_EUCLIDEAN, pb.StructuredQuery_FindNearest_COSINE, pb.StructuredQuery_FindNearest_DOT_PRODUCT,
	}
	fn := &pb.StructuredQuery_FindNearest{
		VectorField:     fzRef(r),
		QueryVector:     fzPick(r, []*pb.Value{vecv(1, 0.5), vecv(3, 4), vecv(-1, 2, 1), vecv(0, 0)}, []*pb.Value{vecv(), arrv(dv(1)), nil}),
		DistanceMeasure: fzPick(r, measures, []pb.StructuredQuery_FindNearest_DistanceMeasure{0, 9}),
		Limit:           wrapperspb.Int32(fzPick(r, []int32{1, 2, 3, 1000}, []int32{0, -1, 1001})),
	}
	if r.n(2) == 0 {
		fn.DistanceThreshold = wrapperspb.Double(fzPick(r, []float64{0, 0.5, 2, -1}, []float64{math.NaN(), math.Inf(1)}))
	}
	if r.n(2) == 0 {
		fn.DistanceResultField = fzPick(r, []string{"d", "a", "m.d"}, []string{"a..b", "`"})
	}
	return fn
}

// fzSource builds the database: documents in collection c at the root, below r/p, below c/d1
// (so that collection group c spans three levels) and in collection other; their fields a, b,
// arr and m (with m.x) take storable values chosen by r, or are missing.
func fzSource(r *fzBytes) *fakeSource {
	paths := []string{"c/d0", "c/d1", "c/d2", "c/d3", "c/d4", "c/d5", "c/d6", "c/d7", "r/p/c/e0", "r/p/c/e1", "c/d1/c/n0", "c/d1/other/o1", "other/o0"}
	var docs []*storage.Version
	for _, p := range paths {
		f := F{}
		for _, name := range []string{"a", "b", "arr", "m", "we.ird"} {
			i := r.n(len(fzValues) + 6)
			if i >= len(fzValues) {
				continue // missing
			}
			f[name] = proto.Clone(fzValues[i]).(*pb.Value)
		}
		if m := f["m"].GetMapValue(); m != nil && r.n(2) == 0 {
			f["m"] = mapv(F{"x": proto.Clone(fzValues[r.n(len(fzValues))]).(*pb.Value)})
		}
		docs = append(docs, doc(p, f))
	}
	return newSource(docs...)
}

// refFieldPath resolves a field reference as the reference does: nil for __name__.
func refFieldPath(t *testing.T, ref *pb.StructuredQuery_FieldReference) value.FieldPath {
	p, err := value.ParseFieldPath(ref.GetFieldPath())
	if err != nil {
		t.Fatalf("the query compiled with an unparsable field path %q: %v", ref.GetFieldPath(), err)
	}
	if len(p) == 1 && p[0] == nameField {
		return nil
	}
	return p
}

func refPath(t *testing.T, v *pb.Value) []string {
	_, path, err := resource.ParseDocumentName(v.GetReferenceValue())
	if err != nil {
		// Numeric document ids, __id<int64>__, are the one thing references may hold beyond
		// stored names.
		segs := strings.Split(v.GetReferenceValue(), "/")
		for i := 6; i < len(segs); i += 2 {
			if refNumericID.MatchString(segs[i]) {
				segs[i] = "0"
			}
		}
		if _, _, err2 := resource.ParseDocumentName(strings.Join(segs, "/")); err2 != nil {
			t.Fatalf("the query compiled comparing __name__ with %v: %v", v, err)
		}
		return strings.Split(strings.TrimPrefix(v.GetReferenceValue(), testDB.DocumentsRoot()+"/"), "/")
	}
	return path
}

// refNumericID matches numeric document ids, __id<int64>__.
var refNumericID = regexp.MustCompile(`^__id(-?[0-9]+)__$`)

// refComparePaths orders names segment by segment: numeric ids, by value, before other ids,
// which are in byte order.
func refComparePaths(a, b []string) int {
	num := func(seg string) (*big.Int, bool) {
		m := refNumericID.FindStringSubmatch(seg)
		if m == nil {
			return nil, false
		}
		n, _ := new(big.Int).SetString(m[1], 10)
		return n, n.IsInt64()
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		x, aNum := num(a[i])
		y, bNum := num(b[i])
		c := strings.Compare(a[i], b[i])
		switch {
		case aNum && bNum:
			c = x.Cmp(y)
		case aNum:
			c = -1
		case bNum:
			c = 1
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// usable reports whether an operand takes part in comparisons: production never matches null
// or NaN through one.
func usable(v *pb.Value) bool { return !value.IsNull(v) && !value.IsNaN(v) }

// refMatches is the reference filter.
func refMatches(t *testing.T, f *pb.StructuredQuery_Filter, d *storage.Version) bool {
	switch ft := f.GetFilterType().(type) {
	case *pb.StructuredQuery_Filter_CompositeFilter:
		isAnd := ft.CompositeFilter.GetOp() == pb.StructuredQuery_CompositeFilter_AND
		for _, c := range ft.CompositeFilter.GetFilters() {
			if refMatches(t, c, d) != isAnd {
				return !isAnd
			}
		}
		return isAnd
	case *pb.StructuredQuery_Filter_UnaryFilter:
		op := ft.UnaryFilter.GetOp()
		path := refFieldPath(t, ft.UnaryFilter.GetField())
		if path == nil {
			return op == isNotNull || op == isNotNaN
		}
		v, ok := value.GetField(d.Fields, path)
		if !ok {
			return false
		}
		switch op {
		case isNull:
			return value.IsNull(v)
		case isNaN:
			return value.IsNaN(v)
		case isNotNull:
			return !value.IsNull(v)
		default:
			return !value.IsNull(v) && !value.IsNaN(v)
		}
	}
	ff := f.GetFieldFilter()
	op, operand := ff.GetOp(), ff.GetValue()
	list := operand.GetArrayValue().GetValues()
	path := refFieldPath(t, ff.GetField())
	if path == nil {
		c := func(v *pb.Value) int { return refComparePaths(d.Path, refPath(t, v)) }
		listed := slices.ContainsFunc(list, func(v *pb.Value) bool { return c(v) == 0 })
		switch op {
		case opEQ:
			return c(operand) == 0
		case opNE:
			return c(operand) != 0
		case opLT:
			return c(operand) < 0
		case opLTE:
			return c(operand) <= 0
		case opGT:
			return c(operand) > 0
		case opGTE:
			return c(operand) >= 0
		case opIn:
			return listed
		default:
			return !listed
		}
	}
	v, ok := value.GetField(d.Fields, path)
	if !ok {
		return false
	}
	equalTo := func(x *pb.Value) func(*pb.Value) bool {
		return func(o *pb.Value) bool { return usable(o) && value.Equal(x, o) }
	}
	ranged := func(want func(int) bool) bool {
		return usable(operand) && value.TypeOrder(v) == value.TypeOrder(operand) && want(value.Compare(v, operand))
	}
	switch op {
	case opEQ:
		return equalTo(v)(operand)
	case opIn:
		return slices.ContainsFunc(list, equalTo(v))
	case opNE:
		// NaN != NaN is false: != excludes what equals the operand, NaN included.
		return !value.IsNull(v) && !(!value.IsNull(operand) && value.Equal(v, operand))
	case opNotIn:
		return !slices.ContainsFunc(list, value.IsNull) && !value.IsNull(v) && !slices.ContainsFunc(list, func(o *pb.Value) bool { return value.Equal(v, o) })
	case opLT:
		return ranged(func(c int) bool { return c < 0 })
	case opLTE:
		return ranged(func(c int) bool { return c <= 0 })
	case opGT:
		return ranged(func(c int) bool { return c > 0 })
	case opGTE:
		return ranged(func(c int) bool { return c >= 0 })
	case opAC:
		return slices.ContainsFunc(v.GetArrayValue().GetValues(), func(e *pb.Value) bool { return equalTo(e)(operand) })
	default: // array_contains_any
		return slices.ContainsFunc(v.GetArrayValue().GetValues(), func(e *pb.Value) bool { return slices.ContainsFunc(list, equalTo(e)) })
	}
}

// inequalityPaths lists the fields of range, !=, not_in, is_not_null and is_not_nan filters
// other than __name__.
func inequalityPaths(t *testing.T, f *pb.StructuredQuery_Filter, out []value.FieldPath) []value.FieldPath {
	var ref *pb.StructuredQuery_FieldReference
	switch ft := f.GetFilterType().(type) {
	case *pb.StructuredQuery_Filter_CompositeFilter:
		for _, c := range ft.CompositeFilter.GetFilters() {
			out = inequalityPaths(t, c, out)
		}
		return out
	case *pb.StructuredQuery_Filter_UnaryFilter:
		if op := ft.UnaryFilter.GetOp(); op == isNotNull || op == isNotNaN {
			ref = ft.UnaryFilter.GetField()
		}
	case *pb.StructuredQuery_Filter_FieldFilter:
		switch ft.FieldFilter.GetOp() {
		case opLT, opLTE, opGT, opGTE, opNE, opNotIn:
			ref = ft.FieldFilter.GetField()
		}
	}
	if ref == nil {
		return out
	}
	if p := refFieldPath(t, ref); p != nil && !slices.ContainsFunc(out, p.Equal) {
		out = append(out, p)
	}
	return out
}

// refOrder is one component of the reference's full ordering; path nil is __name__.
type refOrder struct {
	path value.FieldPath
	desc bool
}

// fullOrdering restates doc.go: the explicit orders, then the inequality fields not already
// ordered, in field path order, then __name__, the appended ones in the direction of the last
// explicit order.
func fullOrdering(t *testing.T, sq *pb.StructuredQuery) []refOrder {
	var orders []refOrder
	ordered := func(p value.FieldPath) bool {
		return slices.ContainsFunc(orders, func(o refOrder) bool { return (o.path == nil) == (p == nil) && o.path.Equal(p) })
	}
	for _, o := range sq.GetOrderBy() {
		orders = append(orders, refOrder{path: refFieldPath(t, o.GetField()), desc: o.GetDirection() == pb.StructuredQuery_DESCENDING})
	}
	lastDesc := len(orders) > 0 && orders[len(orders)-1].desc
	var ineq []value.FieldPath
	if sq.GetWhere() != nil {
		ineq = inequalityPaths(t, sq.GetWhere(), nil)
	}
	slices.SortFunc(ineq, value.CompareFieldPaths)
	for _, p := range ineq {
		if !ordered(p) {
			orders = append(orders, refOrder{path: p, desc: lastDesc})
		}
	}
	if !ordered(nil) {
		orders = append(orders, refOrder{desc: lastDesc})
	}
	return orders
}

// compareByOrders compares two documents, or a document with a cursor's values (b nil), over
// the first n orders.
func compareByOrders(t *testing.T, orders []refOrder, a, b *storage.Version, cursor []*pb.Value) int {
	n := len(orders)
	if b == nil {
		n = len(cursor)
	}
	for i := range n {
		o := orders[i]
		var c int
		switch {
		case o.path == nil && b != nil:
			c = refComparePaths(a.Path, b.Path)
		case o.path == nil:
			c = refComparePaths(a.Path, refPath(t, cursor[i]))
		default:
			av, _ := value.GetField(a.Fields, o.path)
			var bv *pb.Value
			if b != nil {
				bv, _ = value.GetField(b.Fields, o.path)
			} else {
				bv = cursor[i]
			}
			c = value.Compare(av, bv)
		}
		if o.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// referenceRun is the reference evaluation of sq below parent over src's documents.
func referenceRun(t *testing.T, parent []string, sq *pb.StructuredQuery, src *fakeSource) []*storage.Version {
	orders := fullOrdering(t, sq)
	sel := sq.GetFrom()[0]
	var out []*storage.Version
	for _, d := range src.docs {
		if !inCollection(d.Path, parent, sel.GetCollectionId(), sel.GetAllDescendants()) {
			continue
		}
		if sq.GetWhere() != nil && !refMatches(t, sq.GetWhere(), d) {
			continue
		}
		if !slices.ContainsFunc(orders, func(o refOrder) bool {
			if o.path == nil {
				return false
			}
			_, ok := value.GetField(d.Fields, o.path)
			return !ok
		}) {
			out = append(out, d)
		}
	}
	if c := sq.GetStartAt(); c != nil {
		out = slices.DeleteFunc(out, func(d *storage.Version) bool {
			r := compareByOrders(t, orders, d, nil, c.GetValues())
			return r < 0 || (r == 0 && !c.GetBefore())
		})
	}
	if c := sq.GetEndAt(); c != nil {
		out = slices.DeleteFunc(out, func(d *storage.Version) bool {
			r := compareByOrders(t, orders, d, nil, c.GetValues())
			return r > 0 || (r == 0 && c.GetBefore())
		})
	}
	slices.SortStableFunc(out, func(a, b *storage.Version) int { return compareByOrders(t, orders, a, b, nil) })
	for i := 1; i < len(out); i++ {
		if compareByOrders(t, orders, out[i-1], out[i], nil) == 0 {
			t.Fatalf("the reference ordering %v ties %q and %q", orders, out[i-1].Path, out[i].Path)
		}
	}
	out = out[min(int(sq.GetOffset()), len(out)):]
	if l := sq.GetLimit(); l != nil {
		out = out[:min(int(l.GetValue()), len(out))]
	}
	var dists []float64
	if fn := sq.GetFindNearest(); fn != nil {
		out, dists = refNearest(t, fn, out)
	}
	if sel := sq.GetSelect(); sel != nil {
		var paths []value.FieldPath
		for _, f := range sel.GetFields() {
			if p := refFieldPath(t, f); p != nil {
				paths = append(paths, p)
			}
		}
		projected := make([]*storage.Version, len(out))
		for i, d := range out {
			projected[i] = &storage.Version{Path: d.Path, CreateTime: d.CreateTime, UpdateTime: d.UpdateTime, Fields: value.Project(d.Fields, paths)}
			if projected[i].Fields == nil {
				projected[i].Fields = F{}
			}
		}
		out = projected
	}
	if name := sq.GetFindNearest().GetDistanceResultField(); name != "" {
		p, err := value.ParseFieldPath(name)
		if err != nil {
			t.Fatalf("the query compiled with distance_result_field %q: %v", name, err)
		}
		for i, d := range out {
			c := *d
			c.Fields = value.CloneFields(d.Fields)
			value.SetField(c.Fields, p, dv(dists[i]))
			out[i] = &c
		}
	}
	return out
}

// refNearest is the reference vector search: every candidate with a vector of the query's
// dimension, sorted by distance (then name), within the threshold, up to the limit.
func refNearest(t *testing.T, fn *pb.StructuredQuery_FindNearest, docs []*storage.Version) ([]*storage.Version, []float64) {
	target, ok := value.Vector(fn.GetQueryVector())
	if !ok {
		t.Fatalf("the query compiled with the query vector %v", fn.GetQueryVector())
	}
	type cand struct {
		doc  *storage.Version
		dist float64
	}
	var cands []cand
	for _, d := range docs {
		v, _ := value.GetField(d.Fields, refFieldPath(t, fn.GetVectorField()))
		vec, ok := value.Vector(v)
		if !ok || len(vec) != len(target) {
			continue
		}
		var dot, sq, na, nb float64
		for i := range vec {
			dot += vec[i] * target[i]
			sq += (vec[i] - target[i]) * (vec[i] - target[i])
			na += vec[i] * vec[i]
			nb += target[i] * target[i]
		}
		var dist float64
		switch fn.GetDistanceMeasure() {
		case pb.StructuredQuery_FindNearest_EUCLIDEAN:
			dist = math.Sqrt(sq)
		case pb.StructuredQuery_FindNearest_COSINE:
			dist = 1 - dot/(math.Sqrt(na)*math.Sqrt(nb))
		default:
			dist = dot
		}
		if math.IsNaN(dist) {
			continue
		}
		dotProduct := fn.GetDistanceMeasure() == pb.StructuredQuery_FindNearest_DOT_PRODUCT
		if th := fn.GetDistanceThreshold(); th != nil && !((dotProduct && dist >= th.GetValue()) || (!dotProduct && dist <= th.GetValue())) {
			continue // a NaN threshold admits nothing
		}
		if dotProduct {
			dist = -dist // sorted ascending below, restored after
		}
		cands = append(cands, cand{d, dist})
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return refComparePaths(a.doc.Path, b.doc.Path)
	})
	cands = cands[:min(len(cands), int(fn.GetLimit().GetValue()))]
	out, dists := make([]*storage.Version, len(cands)), make([]float64, len(cands))
	for i, c := range cands {
		out[i], dists[i] = c.doc, c.dist
		if fn.GetDistanceMeasure() == pb.StructuredQuery_FindNearest_DOT_PRODUCT {
			dists[i] = -c.dist
		}
	}
	return out, dists
}

func runCompiled(t *testing.T, q *Query, src Source) []*storage.Version {
	var out []*storage.Version
	if err := q.Run(context.Background(), src, func(v *storage.Version) error {
		out = append(out, v)
		return nil
	}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out
}

func describeDocs(docs []*storage.Version) string {
	var b strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&b, "\n  %s %v", strings.Join(d.Path, "/"), d.Fields)
	}
	return b.String()
}

// checkQuery is the property every fuzzed query must have.
func checkQuery(t *testing.T, parent []string, sq *pb.StructuredQuery, src *fakeSource) {
	sent := proto.Clone(sq).(*pb.StructuredQuery)
	q, err := Compile(testDB, parent, sq)
	if !proto.Equal(sq, sent) {
		t.Fatalf("Compile changed its query:\n%v\nto\n%v", sent, sq)
	}
	agg, aggErr := CompileAggregation(testDB, parent, &pb.StructuredAggregationQuery{
		QueryType:    &pb.StructuredAggregationQuery_StructuredQuery{StructuredQuery: sq},
		Aggregations: []*pb.StructuredAggregationQuery_Aggregation{count("n")},
	})
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Compile(%v) = %v, which is not ErrInvalid", sq, err)
		}
		if aggErr == nil {
			t.Fatalf("Compile(%v) = %v, but counting the same query compiles", sq, err)
		}
		return
	}
	if aggErr != nil {
		t.Fatalf("%v compiles, but counting it does not: %v", sq, aggErr)
	}
	got := runCompiled(t, q, src)
	want := referenceRun(t, parent, sq, src)
	gotPaths, wantPaths := make([]string, len(got)), make([]string, len(want))
	for i, d := range got {
		gotPaths[i] = strings.Join(d.Path, "/")
	}
	for i, d := range want {
		wantPaths[i] = strings.Join(d.Path, "/")
	}
	if !slices.Equal(gotPaths, wantPaths) {
		t.Fatalf("query below %q:\n%v\nreturns %q\nthe reference %q\nover%s", parent, sq, gotPaths, wantPaths, describeDocs(src.docs))
	}
	for i := range got {
		if !value.FieldsEqual(got[i].Fields, want[i].Fields) {
			t.Fatalf("query %v returns %s with fields %v, the reference %v", sq, gotPaths[i], got[i].Fields, want[i].Fields)
		}
	}
	counts, err := agg.Run(context.Background(), src)
	if err != nil || counts["n"].GetIntegerValue() != int64(len(got)) {
		t.Fatalf("counting %v gives %v, %v; the query returns %d documents", sq, counts["n"], err, len(got))
	}
	// The compiled query keeps nothing of the request: clearing it changes no result.
	proto.Reset(sq)
	if again := runCompiled(t, q, src); !slices.EqualFunc(again, got, func(a, b *storage.Version) bool { return slices.Equal(a.Path, b.Path) }) {
		t.Fatalf("clearing the request after Compile changes the results of %v", sent)
	}
}

// fzSeedQueries are real queries of the kinds the emulator's tests and clients send.
func fzSeedQueries() []*pb.StructuredQuery {
	return []*pb.StructuredQuery{
		{From: from("c")},
		{From: from("c"), Where: where("a", opEQ, iv(1))},
		{From: from("c"), Where: where("a", opGT, iv(0)), OrderBy: []*pb.StructuredQuery_Order{desc("b")}, Limit: limit(3)},
		{From: from("c"), Where: or(where("a", opLT, dv(1.5)), where("b", opIn, arrv(sv("a"), nullv()))), Offset: 1},
		{From: fromGroup("c"), Where: and(where("arr", opAC, iv(1)), unary("m", isNotNull)), OrderBy: []*pb.StructuredQuery_Order{asc("m.x")}},
		{From: from("c"), Where: where("a", opNotIn, arrv(iv(1), nanv())), StartAt: startAt(iv(0)), EndAt: endBefore(iv(2))},
		{From: from("c"), Where: where("__name__", opGTE, refv("c/d2")), OrderBy: []*pb.StructuredQuery_Order{desc("__name__")}, StartAt: startAfter(refv("c/d6")), Limit: limit(2)},
		{From: from("c"), Where: where("arr", opACA, arrv(iv(2), sv("a"))), Select: selectFields("a", "m.x", "__name__")},
		{From: from("c"), Where: unary("a", isNaN), OrderBy: []*pb.StructuredQuery_Order{asc("b"), asc("a")}, EndAt: endAt(sv("b"))},
		{From: from("c"), Where: where("a", opNE, nullv())},
		{From: fromKindless(), Select: selectFields("__name__"), OrderBy: []*pb.StructuredQuery_Order{asc("__name__")}, Limit: limit(4)},
		{From: fromKindless(), Where: and(where("__name__", opGTE, refv("c/__id-9223372036854775808__")), where("__name__", opLT, refv("c\x00/__id-9223372036854775808__")))},
		{From: fromKindless(), OrderBy: []*pb.StructuredQuery_Order{asc("__name__")}, StartAt: startAfter(refv("c/__id3__"))},
		{From: from("c"), Where: where("a", opGT, iv(0)), FindNearest: &pb.StructuredQuery_FindNearest{
			VectorField: fref("a"), QueryVector: vecv(1, 0.5), DistanceMeasure: pb.StructuredQuery_FindNearest_EUCLIDEAN, Limit: limit(3), DistanceResultField: "d",
		}},
		{From: from("c"), FindNearest: &pb.StructuredQuery_FindNearest{
			VectorField: fref("b"), QueryVector: vecv(-1, 2), DistanceMeasure: pb.StructuredQuery_FindNearest_DOT_PRODUCT, Limit: limit(2), DistanceThreshold: wrapperspb.Double(-1),
		}},
		{From: from("c"), Select: selectFields("a"), FindNearest: &pb.StructuredQuery_FindNearest{
			VectorField: fref("m"), QueryVector: vecv(3, 4), DistanceMeasure: pb.StructuredQuery_FindNearest_COSINE, Limit: limit(5),
		}},
	}
}

// fixedDocs chooses the documents FuzzCompileQuery runs over: every field of every document set,
// to a value that varies along the list.
var fixedDocs = func() []byte {
	b := make([]byte, 200)
	for i := range b {
		b[i] = byte(i * 7 % 37)
	}
	return b
}()

// FuzzCompileQuery decodes structured queries from protobuf bytes, as the server receives them,
// and checks them against the reference (see checkQuery), below the root or a document.
func FuzzCompileQuery(f *testing.F) {
	for i, sq := range fzSeedQueries() {
		b, err := proto.Marshal(sq)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(i), b)
	}
	f.Add(byte(0), []byte{0x12, 0x00}) // a from without a collection id
	f.Fuzz(func(t *testing.T, parentChoice byte, data []byte) {
		sq := &pb.StructuredQuery{}
		if proto.Unmarshal(data, sq) != nil {
			return // not a request gRPC would deliver
		}
		parents := [][]string{nil, {"r", "p"}, {"c", "d1"}, {"c"}}
		checkQuery(t, parents[int(parentChoice)%len(parents)], sq, fzSource(&fzBytes{b: fixedDocs}))
	})
}

// FuzzRunQuery builds mostly valid queries, and the documents they run over, from the input,
// and checks them against the reference (see checkQuery).
func FuzzRunQuery(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 0, 1, 0, 0, 4, 4}, []byte{3, 4, 7, 19, 23, 0, 1, 2, 30, 24, 12, 5, 6, 9})
	f.Add([]byte{0, 0, 0, 1, 6, 1, 0, 0, 0, 1, 2, 1, 1, 1, 0, 0}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{1, 1, 1, 1, 6, 0, 3, 0, 6, 4, 19, 4, 2, 3, 0, 0, 2, 1}, []byte{25, 26, 27, 28, 29, 30, 31, 1, 2, 3})
	f.Add([]byte{0, 0, 0, 2, 0, 6, 9, 33, 1, 6, 1, 0, 0, 0, 1, 0, 0}, []byte{0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, query, docs []byte) {
		parent, sq := fzQuery(&fzBytes{b: query})
		checkQuery(t, parent, sq, fzSource(&fzBytes{b: docs}))
	})
}
