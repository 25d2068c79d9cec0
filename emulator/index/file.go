package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tally-dev/tally/emulator/value"
)

// Query scopes, orders and array configs as the file spells them.
const (
	ScopeCollection      = "COLLECTION"
	ScopeCollectionGroup = "COLLECTION_GROUP"
	Ascending            = "ASCENDING"
	Descending           = "DESCENDING"
	Contains             = "CONTAINS"
)

// File is a firestore.indexes.json file.
type File struct {
	Indexes        []Index         `json:"indexes"`
	FieldOverrides []FieldOverride `json:"fieldOverrides"`
}

// Index is a composite index, or a vector index (whose last field has a VectorConfig).
type Index struct {
	CollectionGroup string  `json:"collectionGroup"`
	QueryScope      string  `json:"queryScope"` // COLLECTION or COLLECTION_GROUP
	Fields          []Field `json:"fields"`
	// Written by newer Firebase CLIs; the emulator accepts and ignores them.
	APIScope string `json:"apiScope,omitempty"`
	Density  string `json:"density,omitempty"`
}

// Field is one field of an index: ordered (ASCENDING, DESCENDING), an array config (CONTAINS)
// or a vector config.
type Field struct {
	FieldPath    string        `json:"fieldPath"`
	Order        string        `json:"order,omitempty"`
	ArrayConfig  string        `json:"arrayConfig,omitempty"`
	VectorConfig *VectorConfig `json:"vectorConfig,omitempty"`
}

// VectorConfig makes a field a vector index of vectors of Dimension values. Flat is the only
// kind of vector index Firestore has.
type VectorConfig struct {
	Dimension int       `json:"dimension"`
	Flat      *struct{} `json:"flat"`
}

// FieldOverride replaces the automatic single-field indexes of one field in one collection group
// (none, when Indexes is empty: the field is exempt from indexing) and may make the field the
// group's TTL field. A field path of "*" overrides every field of the group; a map field's
// override applies to its subfields unless they have their own.
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

// TTLField is a field override's TTL setting.
type TTLField struct{ CollectionGroup, FieldPath string }

// Parse reads a firestore.indexes.json file. Unknown keys are an error, so that a misspelt key
// is not silently ignored.
func Parse(b []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("index declaration: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("index declaration: data after the JSON object")
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("index declaration: %w", err)
	}
	return &f, nil
}

// ReadFile reads and parses the file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// TTLFields lists the overrides that make a field a TTL field.
func (f *File) TTLFields() []TTLField {
	var out []TTLField
	for _, o := range f.FieldOverrides {
		if o.TTL {
			out = append(out, TTLField{CollectionGroup: o.CollectionGroup, FieldPath: o.FieldPath})
		}
	}
	return out
}

var (
	scopes = map[string]bool{ScopeCollection: true, ScopeCollectionGroup: true}
	orders = map[string]bool{Ascending: true, Descending: true}
)

// Validate reports the first problem with the declaration, as the Firebase CLI would refuse to
// deploy it.
func (f *File) Validate() error {
	for i, ix := range f.Indexes {
		if err := ix.validate(fmt.Sprintf("indexes[%d]", i)); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, o := range f.FieldOverrides {
		where := fmt.Sprintf("fieldOverrides[%d]", i)
		if o.CollectionGroup == "" || o.FieldPath == "" {
			return fmt.Errorf("%s needs a collectionGroup and a fieldPath", where)
		}
		if err := checkPath(where, o.FieldPath, true); err != nil {
			return err
		}
		key := o.CollectionGroup + "/" + canonical(o.FieldPath)
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
			if err := checkMode(iw, it.Order, it.ArrayConfig, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ix Index) validate(where string) error {
	if ix.CollectionGroup == "" || !scopes[ix.QueryScope] {
		return fmt.Errorf("%s needs a collectionGroup and a queryScope of COLLECTION or COLLECTION_GROUP", where)
	}
	vectors := 0
	for j, f := range ix.Fields {
		fw := fmt.Sprintf("%s.fields[%d]", where, j)
		if f.FieldPath == "" {
			return fmt.Errorf("%s has no fieldPath", fw)
		}
		if err := checkPath(fw, f.FieldPath, false); err != nil {
			return err
		}
		if err := checkMode(fw, f.Order, f.ArrayConfig, f.VectorConfig); err != nil {
			return err
		}
		if f.VectorConfig != nil {
			vectors++
			if j != len(ix.Fields)-1 {
				return fmt.Errorf("%s: the vector field must be the index's last", fw)
			}
		}
	}
	if vectors == 0 && len(ix.Fields) < 2 {
		return fmt.Errorf("%s has %d fields; a composite index has at least 2 (single-field indexes are automatic, or set in fieldOverrides)", where, len(ix.Fields))
	}
	return nil
}

func checkMode(where, order, array string, vector *VectorConfig) error {
	set := 0
	for _, b := range []bool{order != "", array != "", vector != nil} {
		if b {
			set++
		}
	}
	switch {
	case set > 1:
		return fmt.Errorf("%s has more than one of order, arrayConfig and vectorConfig", where)
	case set == 0:
		return fmt.Errorf("%s needs an order, an arrayConfig or a vectorConfig", where)
	case order != "" && !orders[order]:
		return fmt.Errorf("%s: order %q, want ASCENDING or DESCENDING", where, order)
	case array != "" && array != Contains:
		return fmt.Errorf("%s: arrayConfig %q, want CONTAINS", where, array)
	case vector != nil && (vector.Dimension <= 0 || vector.Dimension > 2048):
		return fmt.Errorf("%s: vectorConfig dimension %d, want 1 to 2048", where, vector.Dimension)
	case vector != nil && vector.Flat == nil:
		return fmt.Errorf(`%s: vectorConfig needs "flat": {}`, where)
	}
	return nil
}

func checkPath(where, path string, wildcard bool) error {
	if wildcard && path == "*" {
		return nil
	}
	if _, err := value.ParseFieldPath(path); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// canonical spells a field path the one way the checks compare it ("a.`b`" and "a.b" are one
// field). A path that does not parse is kept as it is: validation has refused it already.
func canonical(path string) string {
	if path == "*" {
		return path
	}
	p, err := value.ParseFieldPath(path)
	if err != nil {
		return path
	}
	return p.String()
}
