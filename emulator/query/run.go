package query

import (
	"context"
	"slices"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
)

// Run streams the query's results from src to emit in query order, after offset and up to
// limit. Emitted Versions are the Source's own (or projected copies when the query selects
// fields) and must not be modified. An error from emit, src or ctx stops the run and is
// returned.
func (q *Query) Run(ctx context.Context, src Source, emit func(*storage.Version) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.nearest != nil {
		return q.runNearest(ctx, src, emit)
	}
	return q.runPlan(ctx, src, func(doc *storage.Version) error { return emit(q.output(doc)) })
}

// runPlan emits the results, whole, in query order after offset and up to limit.
func (q *Query) runPlan(ctx context.Context, src Source, emit func(*storage.Version) error) error {
	switch {
	case q.limit == 0:
		return nil
	case q.byNameAscending():
		return q.runByName(ctx, src, emit)
	case q.limit > 0:
		return q.runTopK(ctx, src, emit)
	default:
		return q.runSorted(ctx, src, emit)
	}
}

// byNameAscending reports whether the Source's own order is the query's order: names are
// unique, so orders after a leading __name__ never decide anything.
func (q *Query) byNameAscending() bool {
	return q.orders[0].field.isName && !q.orders[0].desc
}

// pager applies offset and limit to results produced in query order.
type pager struct {
	skip, left int64 // left is negative when unlimited
	emit       func(*storage.Version) error
}

// send emits doc unless it falls in the offset, and reports whether the limit is reached.
func (p *pager) send(doc *storage.Version) (done bool, err error) {
	if p.skip > 0 {
		p.skip--
		return false, nil
	}
	if err := p.emit(doc); err != nil {
		return true, err
	}
	if p.left > 0 {
		p.left--
	}
	return p.left == 0, nil
}

// runByName streams documents in name order without buffering. A start cursor's name becomes
// the Source's starting point, and the scan stops at the end cursor or once the limit is
// reached.
func (q *Query) runByName(ctx context.Context, src Source, emit func(*storage.Version) error) error {
	p := &pager{skip: q.offset, left: q.limit, emit: emit}
	var after []string
	if q.start != nil && len(q.start.names) > 0 && !hasNumericID(q.start.names[0]) {
		after = q.start.names[0]
		// `after` skips the cursor's own document, which the rest of the cursor may still
		// admit (start_at, or start_after with later values that it exceeds).
		if q.inScope(after) {
			doc, err := src.Get(after)
			if err != nil {
				return err
			}
			if doc != nil && !doc.Deleted && q.matches(doc) {
				if done, err := p.send(doc); done || err != nil {
					return err
				}
			}
		}
	}
	for doc, err := range src.Documents(q.parent, q.collectionID, q.allDescendants, after) {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !q.beforeEnd(doc) {
			return nil // every later name is past the end too
		}
		if !q.matches(doc) {
			continue
		}
		if done, err := p.send(doc); done || err != nil {
			return err
		}
	}
	return nil
}

// runTopK keeps the best offset+limit matches in a heap, then emits them in order.
func (q *Query) runTopK(ctx context.Context, src Source, emit func(*storage.Version) error) error {
	h := &topK{q: q, k: int(q.offset + q.limit)}
	scratch := &entry{keys: make([]*pb.Value, len(q.orders))}
	for doc, err := range src.Documents(q.parent, q.collectionID, q.allDescendants, nil) {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !q.matches(doc) {
			continue
		}
		q.orderKeys(doc, scratch.keys)
		scratch.path, scratch.doc = doc.Path, doc
		h.offer(scratch)
	}
	items := h.sorted()
	for i := int(q.offset); i < len(items); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(items[i].doc); err != nil {
			return err
		}
	}
	return nil
}

// runSorted sorts only (order key, path) pairs of every match, then fetches each document again
// while emitting, so the documents themselves are never all held at once.
func (q *Query) runSorted(ctx context.Context, src Source, emit func(*storage.Version) error) error {
	var entries []entry
	var slab []*pb.Value // keys are carved from slabs rather than allocated one by one
	n := len(q.orders)
	for doc, err := range src.Documents(q.parent, q.collectionID, q.allDescendants, nil) {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !q.matches(doc) {
			continue
		}
		if len(slab) < n {
			slab = make([]*pb.Value, n*1024)
		}
		e := entry{keys: slab[:n:n], path: doc.Path}
		slab = slab[n:]
		q.orderKeys(doc, e.keys)
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return q.compareEntries(&a, &b) })
	for i := int(q.offset); i < len(entries); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		doc, err := src.Get(entries[i].path)
		if err != nil {
			return err
		}
		if doc == nil || doc.Deleted {
			continue // cannot happen on a consistent snapshot; skipping is the safe answer
		}
		if err := emit(doc); err != nil {
			return err
		}
	}
	return nil
}

// scan visits every result in the Source's order, ignoring offset and limit, until visit asks
// to stop. Aggregations without offset or limit need no ordering.
func (q *Query) scan(ctx context.Context, src Source, visit func(*storage.Version) (stop bool)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for doc, err := range src.Documents(q.parent, q.collectionID, q.allDescendants, nil) {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if q.matches(doc) && visit(doc) {
			return nil
		}
	}
	return nil
}
