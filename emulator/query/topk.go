package query

import (
	"slices"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// topK keeps the k best entries in query order. It is a max-heap whose root is the worst kept
// entry, so a better candidate replaces the root in O(log k).
type topK struct {
	q     *Query
	k     int
	items []entry
}

// worse reports whether items[i] comes after items[j] in query order.
func (h *topK) worse(i, j int) bool {
	return h.q.compareEntries(&h.items[i], &h.items[j]) > 0
}

// offer considers the candidate; its keys are copied only if it is kept, so the caller may
// reuse the candidate's storage.
func (h *topK) offer(c *entry) {
	if len(h.items) == h.k {
		if h.k == 0 || h.q.compareEntries(c, &h.items[0]) >= 0 {
			return
		}
		h.items[0] = keep(c, h.items[0].keys)
		h.down(0)
		return
	}
	h.items = append(h.items, keep(c, nil))
	h.up(len(h.items) - 1)
}

// keep copies c for storing in the heap, reusing buf for the keys when it is large enough.
func keep(c *entry, buf []*pb.Value) entry {
	if cap(buf) < len(c.keys) {
		buf = make([]*pb.Value, len(c.keys))
	}
	buf = buf[:len(c.keys)]
	copy(buf, c.keys)
	return entry{keys: buf, path: c.path, doc: c.doc}
}

func (h *topK) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.worse(i, parent) {
			return
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *topK) down(i int) {
	for {
		worst := i
		if l := 2*i + 1; l < len(h.items) && h.worse(l, worst) {
			worst = l
		}
		if r := 2*i + 2; r < len(h.items) && h.worse(r, worst) {
			worst = r
		}
		if worst == i {
			return
		}
		h.items[i], h.items[worst] = h.items[worst], h.items[i]
		i = worst
	}
}

// sorted returns the kept entries in query order.
func (h *topK) sorted() []entry {
	slices.SortFunc(h.items, func(a, b entry) int { return h.q.compareEntries(&a, &b) })
	return h.items
}
