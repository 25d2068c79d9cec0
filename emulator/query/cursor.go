package query

import (
	"fmt"
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// cursor is a position in the full ordering given by a prefix of order values.
type cursor struct {
	values []*pb.Value
	names  [][]string // the document path of each value at a __name__ position, else nil
	before bool
}

func (q *Query) compileCursor(pc *pb.Cursor, part string) (*cursor, error) {
	if pc == nil {
		return nil, nil
	}
	if len(pc.GetValues()) > len(q.orders) {
		return nil, invalidf("%s: %d values but the query is ordered by only %d fields (%s)", part, len(pc.GetValues()), len(q.orders), q.describeOrders())
	}
	c := &cursor{before: pc.GetBefore(), values: make([]*pb.Value, len(pc.GetValues())), names: make([][]string, len(pc.GetValues()))}
	for i, v := range pc.GetValues() {
		at := fmt.Sprintf("%s.values[%d]", part, i)
		if v.GetValueType() == nil {
			return nil, invalidf("%s: a value is required", at)
		}
		if q.orders[i].field.isName {
			path, err := parseReference(q.db, v, at)
			if err != nil {
				return nil, err
			}
			if !q.inRange(path) {
				return nil, invalidf("%s: document %q is outside the queried %s", at, q.db.DocumentName(path), q.describeScope())
			}
			c.names[i] = path
		} else if err := value.ValidateValue(v); err != nil {
			return nil, invalidf("%s: %v", at, err)
		}
		c.values[i] = proto.Clone(v).(*pb.Value)
	}
	return c, nil
}

// inRange reports whether a cursor may name the document at path: a collection query's cursor
// names a document of that collection, a collection group query's any document below parent.
func (q *Query) inRange(path []string) bool {
	if len(path) <= len(q.parent) || !slices.Equal(path[:len(q.parent)], q.parent) {
		return false
	}
	if q.allDescendants {
		return true
	}
	return len(path) == len(q.parent)+2 && path[len(q.parent)] == q.collectionID
}

// inScope reports whether the document at path is one the query reads.
func (q *Query) inScope(path []string) bool {
	if !q.inRange(path) {
		return false
	}
	return q.kindless() || path[len(path)-2] == q.collectionID
}

// kindless reports whether the query reads every document below its parent.
func (q *Query) kindless() bool { return q.allDescendants && q.collectionID == "" }

func (q *Query) describeScope() string {
	if q.kindless() {
		return fmt.Sprintf("documents below %s", q.db.DocumentName(q.parent))
	}
	if q.allDescendants {
		return fmt.Sprintf("collection group %q below %s", q.collectionID, q.db.DocumentName(q.parent))
	}
	return fmt.Sprintf("collection %s", q.db.DocumentName(append(slices.Clone(q.parent), q.collectionID)))
}

func (q *Query) describeOrders() string {
	parts := make([]string, len(q.orders))
	for i, o := range q.orders {
		dir := "ASCENDING"
		if o.desc {
			dir = "DESCENDING"
		}
		parts[i] = o.field.String() + " " + dir
	}
	return strings.Join(parts, ", ")
}

// compareToCursor compares doc's position with the cursor's prefix of the ordering: negative
// when doc comes before it, zero when doc matches every cursor value. doc must have every
// ordered field.
func (q *Query) compareToCursor(doc *storage.Version, c *cursor) int {
	for i, cv := range c.values {
		o := q.orders[i]
		var r int
		if o.field.isName {
			r = comparePaths(doc.Path, c.names[i])
		} else {
			v, _ := value.GetField(doc.Fields, o.field.path)
			r = value.Compare(v, cv)
		}
		if o.desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

// afterStart reports whether doc is at or after the start cursor: start_at (before) includes
// the documents equal to the cursor, start_after excludes them.
func (q *Query) afterStart(doc *storage.Version) bool {
	if q.start == nil {
		return true
	}
	r := q.compareToCursor(doc, q.start)
	if q.start.before {
		return r >= 0
	}
	return r > 0
}

// beforeEnd reports whether doc is at or before the end cursor: end_before (before) excludes
// the documents equal to the cursor, end_at includes them.
func (q *Query) beforeEnd(doc *storage.Version) bool {
	if q.end == nil {
		return true
	}
	r := q.compareToCursor(doc, q.end)
	if q.end.before {
		return r < 0
	}
	return r <= 0
}
