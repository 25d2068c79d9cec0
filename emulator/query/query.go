package query

import (
	"fmt"
	"slices"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
	// Aliased: the package's tests have a helper named ids.
	idrules "github.com/tally-dev/tally/internal/ids"
)

// Query is a compiled structured query. It is immutable and safe for concurrent use.
type Query struct {
	db             resource.Database
	parent         []string
	collectionID   string
	allDescendants bool

	where  filter // nil when the query has no filter
	orders []order
	start  *cursor
	end    *cursor
	offset int64
	limit  int64 // negative when the query has no limit

	project    bool              // select was given
	projection []value.FieldPath // the selected fields other than __name__

	nearest *nearest // find_nearest, applied to the results of the rest; nil without
}

// Compile validates q as production Firestore does and compiles it for running in database db
// below parent (a document path, or empty for the database root).
func Compile(db resource.Database, parent []string, sq *pb.StructuredQuery) (*Query, error) {
	if sq == nil {
		return nil, invalidf("a structured query is required")
	}
	if len(parent)%2 != 0 {
		return nil, invalidf("parent must be the documents root or a document, not the %d-segment path %q", len(parent), db.DocumentName(parent))
	}
	q := &Query{db: db, parent: slices.Clone(parent), limit: -1}
	if err := q.compileFrom(sq.GetFrom()); err != nil {
		return nil, err
	}

	fc := &filterCompiler{db: db}
	if sq.GetWhere() != nil {
		w, err := fc.compile(sq.GetWhere(), "where")
		if err != nil {
			return nil, err
		}
		q.where = w
	}
	parentLevel := 0
	if len(parent) > 0 {
		parentLevel = 1
	}
	if err := fc.checkQueryRules(q.where, len(sq.GetOrderBy()), parentLevel); err != nil {
		return nil, err
	}

	orders, err := compileOrders(sq.GetOrderBy(), fc.inequalityFields())
	if err != nil {
		return nil, err
	}
	q.orders = orders
	if q.start, err = q.compileCursor(sq.GetStartAt(), "start_at"); err != nil {
		return nil, err
	}
	if q.end, err = q.compileCursor(sq.GetEndAt(), "end_at"); err != nil {
		return nil, err
	}

	if sq.GetOffset() < 0 {
		return nil, invalidf("offset must be greater than or equal to zero, got %d", sq.GetOffset())
	}
	q.offset = int64(sq.GetOffset())
	if l := sq.GetLimit(); l != nil {
		if l.GetValue() < 0 {
			return nil, invalidf("limit must be greater than or equal to zero, got %d", l.GetValue())
		}
		q.limit = int64(l.GetValue())
	}

	if err := q.compileSelect(sq.GetSelect()); err != nil {
		return nil, err
	}
	if fn := sq.GetFindNearest(); fn != nil {
		if q.nearest, err = compileNearest(fn); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func (q *Query) compileFrom(from []*pb.StructuredQuery_CollectionSelector) error {
	if len(from) != 1 {
		return invalidf("from must name exactly one collection, got %d collection selectors", len(from))
	}
	sel := from[0]
	// A kindless query (no collection id, all descendants) reads every document below the
	// parent, as recursive deletes ask.
	kindless := sel.GetCollectionId() == "" && sel.GetAllDescendants()
	if err := idrules.Validate(sel.GetCollectionId(), "collection"); err != nil && !kindless {
		return invalidf("from[0].collection_id: %v", err)
	}
	q.collectionID = sel.GetCollectionId()
	q.allDescendants = sel.GetAllDescendants()
	return nil
}

// compileSelect keeps the projected field paths. __name__ selects no field: a projection of
// only __name__ returns documents without fields.
func (q *Query) compileSelect(sel *pb.StructuredQuery_Projection) error {
	if sel == nil {
		return nil
	}
	q.project = true
	for i, f := range sel.GetFields() {
		ref, err := parseFieldRef(f, fmt.Sprintf("select.fields[%d]", i))
		if err != nil {
			return err
		}
		if !ref.isName {
			q.projection = append(q.projection, ref.path)
		}
	}
	return nil
}

// matches reports whether doc is a result before offset and limit: it passes the filter, has
// every ordered field and lies between the cursors.
func (q *Query) matches(doc *storage.Version) bool {
	if q.where != nil && !q.where.matches(doc) {
		return false
	}
	return q.hasOrderFields(doc) && q.afterStart(doc) && q.beforeEnd(doc)
}

// output is what Run emits for doc: doc itself, or a copy holding only the selected fields.
func (q *Query) output(doc *storage.Version) *storage.Version {
	if !q.project {
		return doc
	}
	out := &storage.Version{Path: doc.Path, CreateTime: doc.CreateTime, UpdateTime: doc.UpdateTime}
	if len(q.projection) == 0 {
		out.Fields = map[string]*pb.Value{}
	} else {
		out.Fields = value.Project(doc.Fields, q.projection)
	}
	return out
}
