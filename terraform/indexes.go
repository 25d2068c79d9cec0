package terraform

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

// indexesJSON is the Firestore index declaration tally's queries need, in the Firebase CLI's
// format. The module creates its indexes and field overrides from this file; the tests run
// tally's queries and fail if one needs an index it does not declare.
//
//go:embed modules/tally/firestore.indexes.json
var indexesJSON []byte

// IndexesFile is the declaration's path relative to this package's directory, for tools that
// read it from disk (the emulator's index checks, the Firebase CLI).
const IndexesFile = "modules/tally/firestore.indexes.json"

// Indexes is a firestore.indexes.json file.
type Indexes struct {
	Indexes        []Index         `json:"indexes"`
	FieldOverrides []FieldOverride `json:"fieldOverrides"`
}

// Index is a composite index.
type Index struct {
	CollectionGroup string       `json:"collectionGroup"`
	QueryScope      string       `json:"queryScope"` // COLLECTION or COLLECTION_GROUP
	Fields          []IndexField `json:"fields"`
}

// IndexField is one field of an index: ordered (ASCENDING, DESCENDING) or an array config
// (CONTAINS).
type IndexField struct {
	FieldPath   string `json:"fieldPath"`
	Order       string `json:"order,omitempty"`
	ArrayConfig string `json:"arrayConfig,omitempty"`
}

// FieldOverride replaces the automatic single-field indexes of one field (none, when Indexes is
// empty: the field is exempt from indexing) and may make the field a TTL field.
type FieldOverride struct {
	CollectionGroup string              `json:"collectionGroup"`
	FieldPath       string              `json:"fieldPath"`
	TTL             bool                `json:"ttl,omitempty"`
	Indexes         []FieldOverrideItem `json:"indexes"`
}

// FieldOverrideItem is one single-field index a field override keeps.
type FieldOverrideItem struct {
	QueryScope  string `json:"queryScope"`
	Order       string `json:"order,omitempty"`
	ArrayConfig string `json:"arrayConfig,omitempty"`
}

// Declared returns tally's index declaration.
func Declared() (*Indexes, error) { return ParseIndexes(indexesJSON) }

// ParseIndexes reads a firestore.indexes.json file. Unknown fields are an error, so that a
// misspelt key is not silently ignored.
func ParseIndexes(b []byte) (*Indexes, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ix Indexes
	if err := dec.Decode(&ix); err != nil {
		return nil, fmt.Errorf("index declaration: %w", err)
	}
	if err := ix.validate(); err != nil {
		return nil, fmt.Errorf("index declaration: %w", err)
	}
	return &ix, nil
}

func (ix *Indexes) validate() error {
	scopes := map[string]bool{"COLLECTION": true, "COLLECTION_GROUP": true}
	orders := map[string]bool{"ASCENDING": true, "DESCENDING": true}
	checkField := func(where, order, array string) error {
		switch {
		case order != "" && array != "":
			return fmt.Errorf("%s has both order and arrayConfig", where)
		case order != "" && !orders[order]:
			return fmt.Errorf("%s: order %q, want ASCENDING or DESCENDING", where, order)
		case array != "" && array != "CONTAINS":
			return fmt.Errorf("%s: arrayConfig %q, want CONTAINS", where, array)
		case order == "" && array == "":
			return fmt.Errorf("%s needs an order or an arrayConfig", where)
		}
		return nil
	}
	seen := map[string]bool{}
	for i, index := range ix.Indexes {
		where := fmt.Sprintf("indexes[%d]", i)
		if index.CollectionGroup == "" || !scopes[index.QueryScope] {
			return fmt.Errorf("%s needs a collectionGroup and a queryScope of COLLECTION or COLLECTION_GROUP", where)
		}
		if len(index.Fields) < 2 {
			return fmt.Errorf("%s has %d fields; a composite index has at least 2", where, len(index.Fields))
		}
		for j, f := range index.Fields {
			fw := fmt.Sprintf("%s.fields[%d]", where, j)
			if f.FieldPath == "" {
				return fmt.Errorf("%s has no fieldPath", fw)
			}
			if err := checkField(fw, f.Order, f.ArrayConfig); err != nil {
				return err
			}
		}
	}
	for i, o := range ix.FieldOverrides {
		where := fmt.Sprintf("fieldOverrides[%d]", i)
		if o.CollectionGroup == "" || o.FieldPath == "" {
			return fmt.Errorf("%s needs a collectionGroup and a fieldPath", where)
		}
		key := o.CollectionGroup + "/" + o.FieldPath
		if seen[key] {
			return fmt.Errorf("%s: a second override of %s", where, key)
		}
		seen[key] = true
		if o.Indexes == nil {
			return fmt.Errorf("%s (%s) has no indexes list; [] exempts the field from indexing", where, key)
		}
		for j, it := range o.Indexes {
			iw := fmt.Sprintf("%s.indexes[%d]", where, j)
			if !scopes[it.QueryScope] {
				return fmt.Errorf("%s: queryScope %q, want COLLECTION or COLLECTION_GROUP", iw, it.QueryScope)
			}
			if err := checkField(iw, it.Order, it.ArrayConfig); err != nil {
				return err
			}
		}
	}
	return nil
}
