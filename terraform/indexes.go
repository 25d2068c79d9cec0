package terraform

import (
	_ "embed"

	"github.com/tally-dev/tally/emulator/index"
)

// indexesJSON is the Firestore index declaration tally's queries need, in the Firebase CLI's
// format. The module creates its indexes and field overrides from this file; tallyd's embedded
// emulator checks every query against it, and so do the tests here.
//
//go:embed modules/tally/firestore.indexes.json
var indexesJSON []byte

// IndexesFile is the declaration's path relative to this package's directory, for tools that
// read it from disk (the emulator's --indexes, the Firebase CLI).
const IndexesFile = "modules/tally/firestore.indexes.json"

// The declaration's types are the emulator's: one parser reads the file for Terraform, for the
// emulator's index checks and for the tests.
type (
	Indexes           = index.File
	Index             = index.Index
	IndexField        = index.Field
	FieldOverride     = index.FieldOverride
	FieldOverrideItem = index.FieldOverrideItem
)

// Declared returns tally's index declaration.
func Declared() (*Indexes, error) { return ParseIndexes(indexesJSON) }

// ParseIndexes reads a firestore.indexes.json file. Unknown fields are an error, so that a
// misspelt key is not silently ignored.
func ParseIndexes(b []byte) (*Indexes, error) { return index.Parse(b) }
