package query

import (
	"fmt"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// order is one component of a query's full ordering.
type order struct {
	field fieldRef
	desc  bool
}

// compileOrders builds the full ordering: the explicit orders, then the inequality fields not
// already ordered, then __name__, the appended ones in the direction of the last explicit order.
func compileOrders(explicit []*pb.StructuredQuery_Order, inequalities []fieldRef) ([]order, error) {
	seen := make(map[string]bool)
	orders := make([]order, 0, len(explicit)+len(inequalities)+1)
	for i, o := range explicit {
		part := fmt.Sprintf("order_by[%d]", i)
		ref, err := parseFieldRef(o.GetField(), part+".field")
		if err != nil {
			return nil, err
		}
		var desc bool
		switch o.GetDirection() {
		case pb.StructuredQuery_DIRECTION_UNSPECIFIED, pb.StructuredQuery_ASCENDING:
		case pb.StructuredQuery_DESCENDING:
			desc = true
		default:
			return nil, invalidf("%s.direction: unknown direction %d", part, o.GetDirection())
		}
		if seen[ref.key()] {
			return nil, invalidf("%s: %s is already ordered by an earlier order_by", part, ref)
		}
		seen[ref.key()] = true
		orders = append(orders, order{field: ref, desc: desc})
	}
	lastDesc := len(orders) > 0 && orders[len(orders)-1].desc
	for _, ref := range inequalities {
		if !seen[ref.key()] {
			orders = append(orders, order{field: ref, desc: lastDesc})
		}
	}
	if !seen[fieldRef{isName: true}.key()] {
		orders = append(orders, order{field: fieldRef{isName: true}, desc: lastDesc})
	}
	return orders, nil
}

// orderKeys fills keys with doc's value for each order (nil for __name__) and reports whether
// doc has every ordered field: documents lacking one are not results.
func (q *Query) orderKeys(doc *storage.Version, keys []*pb.Value) bool {
	for i, o := range q.orders {
		if o.field.isName {
			keys[i] = nil
			continue
		}
		v, ok := value.GetField(doc.Fields, o.field.path)
		if !ok {
			return false
		}
		keys[i] = v
	}
	return true
}

// hasOrderFields reports whether doc has every ordered field, without collecting them.
func (q *Query) hasOrderFields(doc *storage.Version) bool {
	for _, o := range q.orders {
		if o.field.isName {
			continue
		}
		if _, ok := value.GetField(doc.Fields, o.field.path); !ok {
			return false
		}
	}
	return true
}

// entry is a candidate result: its order keys, its path and, when kept whole, the document.
type entry struct {
	keys []*pb.Value
	path []string
	doc  *storage.Version
}

// compareEntries orders two candidates by the query's full ordering.
func (q *Query) compareEntries(a, b *entry) int {
	for i, o := range q.orders {
		var c int
		if o.field.isName {
			c = comparePaths(a.path, b.path)
		} else {
			c = value.Compare(a.keys[i], b.keys[i])
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
