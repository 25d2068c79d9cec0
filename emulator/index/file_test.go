package index

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		wantErr string // "" for a valid declaration
	}{
		{"empty", `{}`, ""},
		{"the test declaration", declaration, ""},
		{"newer CLI keys", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","apiScope":"ANY_API","density":"SPARSE_ALL","fields":[{"fieldPath":"a","order":"ASCENDING"},{"fieldPath":"b","order":"DESCENDING"}]}]}`, ""},
		{"unknown key", `{"indexes":[],"fieldOverides":[]}`, `unknown field "fieldOverides"`},
		{"not JSON", `indexes`, "invalid character"},
		{"data after the object", `{} {}`, "data after the JSON object"},
		{"no scope", `{"indexes":[{"collectionGroup":"g","fields":[{"fieldPath":"a","order":"ASCENDING"},{"fieldPath":"b","order":"ASCENDING"}]}]}`, "queryScope of COLLECTION"},
		{"one field", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"a","order":"ASCENDING"}]}]}`, "a composite index has at least 2"},
		{"a vector index of one field", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"v","vectorConfig":{"dimension":8,"flat":{}}}]}]}`, ""},
		{"vector field not last", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"v","vectorConfig":{"dimension":8,"flat":{}}},{"fieldPath":"a","order":"ASCENDING"}]}]}`, "must be the index's last"},
		{"vector dimension", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"v","vectorConfig":{"dimension":0,"flat":{}}}]}]}`, "dimension 0"},
		{"vector kind", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"v","vectorConfig":{"dimension":8}}]}]}`, `needs "flat"`},
		{"bad order", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"a","order":"UP"},{"fieldPath":"b","order":"ASCENDING"}]}]}`, `order "UP"`},
		{"two modes", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"a","order":"ASCENDING","arrayConfig":"CONTAINS"},{"fieldPath":"b","order":"ASCENDING"}]}]}`, "more than one of"},
		{"no mode", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"a"},{"fieldPath":"b","order":"ASCENDING"}]}]}`, "needs an order"},
		{"bad path", `{"indexes":[{"collectionGroup":"g","queryScope":"COLLECTION","fields":[{"fieldPath":"a-b","order":"ASCENDING"},{"fieldPath":"b","order":"ASCENDING"}]}]}`, "fields[0]"},
		{"override without indexes", `{"fieldOverrides":[{"collectionGroup":"g","fieldPath":"a"}]}`, "[] exempts the field"},
		{"override twice", `{"fieldOverrides":[{"collectionGroup":"g","fieldPath":"a","indexes":[]},{"collectionGroup":"g","fieldPath":"` + "`a`" + `","indexes":[]}]}`, "a second override of g/a"},
		{"override scope", `{"fieldOverrides":[{"collectionGroup":"g","fieldPath":"a","indexes":[{"order":"ASCENDING"}]}]}`, `queryScope ""`},
		{"wildcard override", `{"fieldOverrides":[{"collectionGroup":"g","fieldPath":"*","indexes":[]}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadFileAndTTLFields(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "firestore.indexes.json")
	if err := os.WriteFile(path, []byte(declaration), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.TTLFields(), []TTLField{{CollectionGroup: "items", FieldPath: "expire_at"}}; !slices.Equal(got, want) {
		t.Fatalf("TTLFields = %v, want %v", got, want)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("ReadFile of a missing file succeeded")
	}
}
