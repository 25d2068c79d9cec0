package query

import (
	"container/heap"
	"context"
	"math"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// maxNearestLimit is production's bound on the neighbours one vector search returns.
const maxNearestLimit = 1000

// nearest is a compiled find_nearest: an exact (brute force) search over the query's results.
type nearest struct {
	field       value.FieldPath
	target      []float64
	targetNorm  float64
	measure     pb.StructuredQuery_FindNearest_DistanceMeasure
	limit       int
	resultField value.FieldPath // nil when the distance is not returned
	threshold   *float64
}

func compileNearest(fn *pb.StructuredQuery_FindNearest) (*nearest, error) {
	ref, err := parseFieldRef(fn.GetVectorField(), "find_nearest.vector_field")
	if err != nil {
		return nil, err
	}
	if ref.isName {
		return nil, invalidf("find_nearest.vector_field: __name__ is not a vector field")
	}
	n := &nearest{field: ref.path, measure: fn.GetDistanceMeasure()}

	qv := fn.GetQueryVector()
	if err := value.ValidateValue(qv); err != nil {
		return nil, invalidf("find_nearest.query_vector: %v", err)
	}
	target, ok := value.Vector(qv)
	if !ok {
		return nil, invalidf("find_nearest.query_vector: must be a vector value (a map with __type__ \"__vector__\" and value an array of numbers), got %s", kindOf(qv))
	}
	if len(target) == 0 || len(target) > value.MaxVectorDimensions {
		return nil, invalidf("find_nearest.query_vector: has %d dimensions; a query vector has between 1 and %d", len(target), value.MaxVectorDimensions)
	}
	n.target = target
	n.targetNorm = norm(target)

	switch n.measure {
	case pb.StructuredQuery_FindNearest_EUCLIDEAN, pb.StructuredQuery_FindNearest_COSINE, pb.StructuredQuery_FindNearest_DOT_PRODUCT:
	default:
		return nil, invalidf("find_nearest.distance_measure: must be EUCLIDEAN, COSINE or DOT_PRODUCT, got %v", n.measure)
	}

	l := fn.GetLimit()
	if l == nil || l.GetValue() <= 0 || l.GetValue() > maxNearestLimit {
		return nil, invalidf("find_nearest.limit: must be a positive integer of at most %d, got %v", maxNearestLimit, l.GetValue())
	}
	n.limit = int(l.GetValue())

	if name := fn.GetDistanceResultField(); name != "" {
		p, err := value.ParseFieldPath(name)
		if err != nil {
			return nil, invalidf("find_nearest.distance_result_field: %v", err)
		}
		n.resultField = p
	}
	if t := fn.GetDistanceThreshold(); t != nil {
		v := t.GetValue()
		n.threshold = &v
	}
	return n, nil
}

// distance measures doc's vector against the target. ok is false when doc has no vector of
// the target's dimension there, or when the distance is undefined (COSINE of a zero vector):
// such documents are skipped, as production skips them.
func (n *nearest) distance(doc *storage.Version) (d float64, ok bool) {
	v, found := value.GetField(doc.Fields, n.field)
	if !found {
		return 0, false
	}
	elems, isVector := value.VectorValues(v)
	if !isVector || len(elems) != len(n.target) {
		return 0, false
	}
	var sqDiff, dotProd, sqNorm float64
	for i, e := range elems {
		x := value.NumberOf(e)
		diff := x - n.target[i]
		sqDiff += diff * diff
		dotProd += x * n.target[i]
		sqNorm += x * x
	}
	switch n.measure {
	case pb.StructuredQuery_FindNearest_EUCLIDEAN:
		d = math.Sqrt(sqDiff)
	case pb.StructuredQuery_FindNearest_COSINE:
		d = 1 - dotProd/(math.Sqrt(sqNorm)*n.targetNorm)
	default:
		d = dotProd
	}
	if math.IsNaN(d) {
		return 0, false
	}
	if n.threshold != nil && !n.within(d, *n.threshold) {
		return 0, false
	}
	return d, true
}

// within applies the threshold: for EUCLIDEAN and COSINE distance <= threshold, for
// DOT_PRODUCT (which grows with similarity) distance >= threshold.
func (n *nearest) within(d, threshold float64) bool {
	if n.measure == pb.StructuredQuery_FindNearest_DOT_PRODUCT {
		return d >= threshold
	}
	return d <= threshold
}

// closer reports whether distance a ranks before distance b.
func (n *nearest) closer(a, b float64) bool {
	if n.measure == pb.StructuredQuery_FindNearest_DOT_PRODUCT {
		return a > b
	}
	return a < b
}

func norm(a []float64) float64 {
	var s float64
	for _, x := range a {
		s += x * x
	}
	return math.Sqrt(s)
}

// neighbour is a candidate of the search.
type neighbour struct {
	doc  *storage.Version
	dist float64
}

// neighbours keeps the best limit candidates; its root is the worst one kept. Ties in distance
// go to the earlier name, so results are deterministic.
type neighbours struct {
	n     *nearest
	items []neighbour
}

func (h *neighbours) Len() int      { return len(h.items) }
func (h *neighbours) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *neighbours) Less(i, j int) bool {
	return h.better(h.items[j], h.items[i]) // a max-heap: the worst on top
}
func (h *neighbours) Push(x any) { h.items = append(h.items, x.(neighbour)) }
func (h *neighbours) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

func (h *neighbours) better(a, b neighbour) bool {
	if a.dist != b.dist {
		return h.n.closer(a.dist, b.dist)
	}
	return comparePaths(a.doc.Path, b.doc.Path) < 0
}

func (h *neighbours) offer(c neighbour) {
	if len(h.items) < h.n.limit {
		heap.Push(h, c)
		return
	}
	if h.better(c, h.items[0]) {
		h.items[0] = c
		heap.Fix(h, 0)
	}
}

// runNearest searches the results of the rest of the query, which applies first (filters,
// ordering, cursors, offset and limit), and emits the nearest in order of distance.
func (q *Query) runNearest(ctx context.Context, src Source, emit func(*storage.Version) error) error {
	h := &neighbours{n: q.nearest}
	err := q.runPlan(ctx, src, func(doc *storage.Version) error {
		if d, ok := q.nearest.distance(doc); ok {
			h.offer(neighbour{doc: doc, dist: d})
		}
		return nil
	})
	if err != nil {
		return err
	}
	best := make([]neighbour, h.Len())
	for i := len(best) - 1; i >= 0; i-- {
		best[i] = heap.Pop(h).(neighbour)
	}
	for _, c := range best {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(q.nearest.withDistance(q.output(c.doc), c.dist)); err != nil {
			return err
		}
	}
	return nil
}

// withDistance returns doc with the distance stored at the result field, if one was asked for;
// doc itself is not modified.
func (n *nearest) withDistance(doc *storage.Version, d float64) *storage.Version {
	if n.resultField == nil {
		return doc
	}
	out := *doc
	if len(n.resultField) == 1 {
		out.Fields = make(map[string]*pb.Value, len(doc.Fields)+1)
		for k, v := range doc.Fields {
			out.Fields[k] = v
		}
	} else {
		out.Fields = value.CloneFields(doc.Fields)
	}
	value.SetField(out.Fields, n.resultField, &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: d}})
	return &out
}
