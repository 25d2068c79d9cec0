// Package resource parses, validates and formats Firestore resource names. The rules for the ids
// in them are package ids's.
package resource

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tally-dev/tally/internal/ids"
)

// Database identifies one isolated Firestore namespace, projects/{Project}/databases/{Database}.
type Database struct {
	Project  string
	Database string
}

// Name is the database's resource name, "projects/P/databases/D".
func (d Database) Name() string {
	return "projects/" + d.Project + "/databases/" + d.Database
}

// DocumentsRoot is the parent of every top-level collection, "projects/P/databases/D/documents".
func (d Database) DocumentsRoot() string {
	return d.Name() + "/documents"
}

// DocumentName formats the full resource name of the document or collection at path.
func (d Database) DocumentName(path []string) string {
	if len(path) == 0 {
		return d.DocumentsRoot()
	}
	return d.DocumentsRoot() + "/" + strings.Join(path, "/")
}

// ParseDatabase parses "projects/P/databases/D".
func ParseDatabase(name string) (Database, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "databases" {
		return Database{}, fmt.Errorf("%q is not a database name of the form projects/{project_id}/databases/{database_id}", name)
	}
	db := Database{Project: parts[1], Database: parts[3]}
	if err := validateDatabase(db); err != nil {
		return Database{}, err
	}
	return db, nil
}

func validateDatabase(db Database) error {
	if db.Project == "" {
		return fmt.Errorf("project id must not be empty")
	}
	if db.Database == "" {
		return fmt.Errorf("database id must not be empty")
	}
	for _, id := range []string{db.Project, db.Database} {
		if !utf8.ValidString(id) {
			return fmt.Errorf("project and database ids must be valid UTF-8")
		}
	}
	return nil
}

// parse splits a name under ".../documents" into its database and path segments. The root itself
// yields an empty path.
func parse(name string) (Database, []string, error) {
	parts := strings.Split(name, "/")
	if len(parts) < 5 || parts[4] != "documents" {
		return Database{}, nil, fmt.Errorf("%q is not a name under projects/{project_id}/databases/{database_id}/documents", name)
	}
	db, err := ParseDatabase(strings.Join(parts[:4], "/"))
	if err != nil {
		return Database{}, nil, err
	}
	path := parts[5:]
	for i, seg := range path {
		kind := "collection"
		if i%2 == 1 {
			kind = "document"
		}
		if err := ids.Validate(seg, kind); err != nil {
			return Database{}, nil, fmt.Errorf("%q: %w", name, err)
		}
	}
	return db, path, nil
}

// ParseDocumentName parses the full name of a document and returns its path segments
// (collection, id, collection, id, ...). The path always has an even, non-zero length.
func ParseDocumentName(name string) (Database, []string, error) {
	db, path, err := parse(name)
	if err != nil {
		return Database{}, nil, err
	}
	if len(path) == 0 || len(path)%2 != 0 {
		return Database{}, nil, fmt.Errorf("%q is not a document name: a document path has an even number of segments", name)
	}
	return db, path, nil
}

// ParseParent parses a parent that may contain collections: the documents root (empty path) or a
// document.
func ParseParent(name string) (Database, []string, error) {
	db, path, err := parse(name)
	if err != nil {
		return Database{}, nil, err
	}
	if len(path)%2 != 0 {
		return Database{}, nil, fmt.Errorf("%q is not a valid parent: it must be the documents root or a document", name)
	}
	return db, path, nil
}

// ParseCollectionName parses the full name of a collection; the path has an odd length.
func ParseCollectionName(name string) (Database, []string, error) {
	db, path, err := parse(name)
	if err != nil {
		return Database{}, nil, err
	}
	if len(path)%2 != 1 {
		return Database{}, nil, fmt.Errorf("%q is not a collection name: a collection path has an odd number of segments", name)
	}
	return db, path, nil
}

// NameSize is the storage size Firestore charges for a document name: each segment's length
// plus one, plus 16.
func NameSize(path []string) int {
	n := 16
	for _, seg := range path {
		n += len(seg) + 1
	}
	return n
}
