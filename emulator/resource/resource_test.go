package resource

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tally-dev/tally/internal/ids"
)

var testDB = Database{Project: "proj", Database: "(default)"}

const root = "projects/proj/databases/(default)/documents"

func TestParseDatabase(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Database
		wantErr string
	}{
		{name: "default database", in: "projects/proj/databases/(default)", want: testDB},
		{name: "named database", in: "projects/p-1/databases/db2", want: Database{Project: "p-1", Database: "db2"}},
		{name: "unicode ids", in: "projects/prøj/databases/δb", want: Database{Project: "prøj", Database: "δb"}},
		{name: "empty", in: "", wantErr: "not a database name"},
		{name: "too few segments", in: "projects/proj/databases", wantErr: "not a database name"},
		{name: "too many segments", in: "projects/proj/databases/d/documents", wantErr: "not a database name"},
		{name: "wrong first keyword", in: "project/proj/databases/d", wantErr: "not a database name"},
		{name: "wrong second keyword", in: "projects/proj/database/d", wantErr: "not a database name"},
		{name: "empty project", in: "projects//databases/d", wantErr: "project id must not be empty"},
		{name: "empty database", in: "projects/proj/databases/", wantErr: "database id must not be empty"},
		{name: "invalid UTF-8 project", in: "projects/\xff/databases/d", wantErr: "valid UTF-8"},
		{name: "invalid UTF-8 database", in: "projects/p/databases/\xc3", wantErr: "valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDatabase(tt.in)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("ParseDatabase(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if tt.wantErr == "" && got.Name() != tt.in {
				t.Errorf("Name() = %q, want the parsed name %q back", got.Name(), tt.in)
			}
		})
	}
}

// nameCases are names under a database's documents root and the kinds of resource they denote;
// the Parse functions each accept one kind.
var nameCases = []struct {
	name    string
	in      string
	path    []string
	wantErr string // set when the name is invalid whatever the kind
}{
	{name: "root", in: root, path: []string{}},
	{name: "top-level collection", in: root + "/users", path: []string{"users"}},
	{name: "top-level document", in: root + "/users/alice", path: []string{"users", "alice"}},
	{name: "subcollection", in: root + "/users/alice/posts", path: []string{"users", "alice", "posts"}},
	{name: "nested document", in: root + "/users/alice/posts/p1", path: []string{"users", "alice", "posts", "p1"}},
	{name: "unicode ids", in: root + "/ユーザー/😀", path: []string{"ユーザー", "😀"}},
	{name: "allowed underscores", in: root + "/__/___", path: []string{"__", "___"}},
	{name: "not under documents", in: "projects/proj/databases/(default)/users/alice", wantErr: "is not a name under"},
	{name: "database only", in: "projects/proj/databases/(default)", wantErr: "is not a name under"},
	{name: "bad database part", in: "projects//databases/(default)/documents/c/d", wantErr: "project id must not be empty"},
	{name: "empty segment", in: root + "/users//posts", wantErr: "document id must not be empty"},
	{name: "trailing slash", in: root + "/users/", wantErr: "document id must not be empty"},
	{name: "double dot id", in: root + "/users/..", wantErr: `must not be ".."`},
	{name: "dot collection", in: root + "/./alice", wantErr: `must not be "."`},
	{name: "reserved id", in: root + "/users/__x__", wantErr: "reserved"},
	{name: "reserved collection", in: root + "/__c__/x", wantErr: "collection id \"__c__\" is reserved"},
	{name: "invalid UTF-8 id", in: root + "/users/\xff", wantErr: "valid UTF-8"},
	{name: "id too long", in: root + "/users/" + strings.Repeat("a", ids.MaxBytes+1), wantErr: "longer than the limit"},
}

func TestParseDocumentName(t *testing.T) {
	testParse(t, ParseDocumentName, func(n int) bool { return n > 0 && n%2 == 0 }, "not a document name")
}

func TestParseParent(t *testing.T) {
	testParse(t, ParseParent, func(n int) bool { return n%2 == 0 }, "not a valid parent")
}

func TestParseCollectionName(t *testing.T) {
	testParse(t, ParseCollectionName, func(n int) bool { return n%2 == 1 }, "not a collection name")
}

// testParse runs nameCases through parse, which must accept exactly the valid names whose path
// length accepts allows, and reject the others with kindErr.
func testParse(t *testing.T, parse func(string) (Database, []string, error), accepts func(int) bool, kindErr string) {
	t.Helper()
	for _, tt := range nameCases {
		t.Run(tt.name, func(t *testing.T) {
			db, path, err := parse(tt.in)
			wantErr := tt.wantErr
			if wantErr == "" && !accepts(len(tt.path)) {
				wantErr = kindErr
			}
			checkErr(t, err, wantErr)
			if wantErr != "" {
				if db != (Database{}) || path != nil {
					t.Errorf("on error got %+v, %q; want zero values", db, path)
				}
				return
			}
			if db != testDB || !slices.Equal(path, tt.path) {
				t.Errorf("parse(%q) = %+v, %q; want %+v, %q", tt.in, db, path, testDB, tt.path)
			}
		})
	}
}

func TestDocumentNameRoundTrip(t *testing.T) {
	dbs := []Database{testDB, {Project: "p", Database: "other-db"}, {Project: "prøj", Database: "δb"}}
	paths := [][]string{
		{"c", "d"},
		{"users", "alice", "posts", "p1"},
		{"日本", "😀"},
		{"__", "___"},
		{"a.b", "c d"},
		{"c", strings.Repeat("x", ids.MaxBytes)},
	}
	for _, db := range dbs {
		for i, path := range paths {
			t.Run(fmt.Sprintf("%s/%d", db.Database, i), func(t *testing.T) {
				name := db.DocumentName(path)
				gotDB, gotPath, err := ParseDocumentName(name)
				if err != nil {
					t.Fatalf("ParseDocumentName(%q): %v", name, err)
				}
				if gotDB != db || !slices.Equal(gotPath, path) {
					t.Errorf("round trip of %q = %+v, %q; want %+v, %q", name, gotDB, gotPath, db, path)
				}
				parentDB, parent, err := ParseParent(name)
				if err != nil || parentDB != db || !slices.Equal(parent, path) {
					t.Errorf("ParseParent(%q) = %+v, %q, %v; want the document path", name, parentDB, parent, err)
				}
				coll := db.DocumentName(path[:len(path)-1])
				collDB, collPath, err := ParseCollectionName(coll)
				if err != nil || collDB != db || !slices.Equal(collPath, path[:len(path)-1]) {
					t.Errorf("ParseCollectionName(%q) = %+v, %q, %v; want the collection path", coll, collDB, collPath, err)
				}
			})
		}
	}
}

func TestDatabaseNames(t *testing.T) {
	db := Database{Project: "p", Database: "d"}
	tests := []struct {
		name, got, want string
	}{
		{"Name", db.Name(), "projects/p/databases/d"},
		{"DocumentsRoot", db.DocumentsRoot(), "projects/p/databases/d/documents"},
		{"DocumentName of empty path", db.DocumentName(nil), "projects/p/databases/d/documents"},
		{"DocumentName of collection", db.DocumentName([]string{"c"}), "projects/p/databases/d/documents/c"},
		{"DocumentName of document", db.DocumentName([]string{"c", "x"}), "projects/p/databases/d/documents/c/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	rootDB, path, err := ParseParent(db.DocumentsRoot())
	if err != nil || rootDB != db || len(path) != 0 {
		t.Errorf("ParseParent(DocumentsRoot()) = %+v, %q, %v; want %+v and an empty path", rootDB, path, err, db)
	}
}

func TestNameSize(t *testing.T) {
	tests := []struct {
		name string
		path []string
		want int
	}{
		{"empty", nil, 16},
		{"document", []string{"c", "x"}, 16 + 2 + 2},
		{"nested", []string{"users", "alice", "posts", "p1"}, 16 + 6 + 6 + 6 + 3},
		{"multibyte counts bytes", []string{"é", "😀"}, 16 + 3 + 5},
		{"long id", []string{"c", strings.Repeat("a", ids.MaxBytes)}, 16 + 2 + ids.MaxBytes + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NameSize(tt.path); got != tt.want {
				t.Errorf("NameSize(%q) = %d, want %d", tt.path, got, tt.want)
			}
		})
	}
}

// checkErr fails unless err is nil when want is empty, or mentions want otherwise.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one mentioning %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not mention %q", err, want)
	}
}
