package query

import (
	"iter"

	"github.com/tally-dev/tally/emulator/storage"
)

// Source is the minimum a query needs: a consistent snapshot of one database.
type Source interface {
	// Documents yields live documents of collection parent/collectionID in document-name order,
	// strictly after `after` (nil = from the start); with allDescendants, every document below
	// parent whose immediate collection id is collectionID, in full-name order.
	Documents(parent []string, collectionID string, allDescendants bool, after []string) iter.Seq2[*storage.Version, error]
	Get(path []string) (*storage.Version, error) // nil,nil when missing
}
