package query

import (
	"slices"

	"github.com/tally-dev/tally/emulator/storage"
)

// This file is what a realtime listener needs beyond Run: deciding for one changed document
// whether it belongs to the result, without reading anything else.

// Scope returns what the query reads: the documents of collection parent/collectionID, or with
// allDescendants every document below parent whose collection id is collectionID (any
// collection when collectionID is empty: a kindless query).
func (q *Query) Scope() (parent []string, collectionID string, allDescendants bool) {
	return slices.Clone(q.parent), q.collectionID, q.allDescendants
}

// Windowed reports whether the query has a limit, an offset or a vector search: then whether a
// document is a result depends on the other documents too, and Matches is not the whole answer.
func (q *Query) Windowed() bool {
	return q.limit >= 0 || q.offset > 0 || q.nearest != nil
}

// Matches reports whether the live document doc is in the query's scope and passes its filter,
// order fields and cursors; for a query that is not Windowed, that makes it a result.
func (q *Query) Matches(doc *storage.Version) bool {
	return doc != nil && !doc.Deleted && q.inScope(doc.Path) && q.matches(doc)
}

// Output is what Run emits for a result doc: doc itself, or a copy holding only the selected
// fields.
func (q *Query) Output(doc *storage.Version) *storage.Version {
	return q.output(doc)
}
