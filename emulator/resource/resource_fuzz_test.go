package resource

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tally-dev/tally/internal/ids"
)

// nameSeeds are names of every kind and the ways they go wrong.
var nameSeeds = []string{
	"projects/p/databases/d",
	root,
	root + "/",
	root + "/users",
	root + "/users/alice",
	root + "/users/alice/posts",
	root + "/users/alice/posts/p1",
	root + "/users//posts",
	root + "/users/./x",
	root + "/users/../x",
	root + "/users/__x__",
	root + "/__x__/a",
	root + "/users/\xff",
	root + "/users/a\x00b",
	"projects//databases/d/documents",
	"projects/p/databases//documents/c",
	"projects/p/databases/d/document/c",
	"projects/\xc3/databases/d/documents",
	"project/p/databases/d/documents",
	"",
	"/",
}

// documentedName restates the documented form of a name under a documents root,
// projects/{project}/databases/{database}/documents[/{segment}...], without strings.Split: it
// returns the database and the path, and ok only when project and database are non-empty valid
// UTF-8 and every segment is a valid id (package ids).
func documentedName(name string) (db Database, path []string, ok bool) {
	rest, found := strings.CutPrefix(name, "projects/")
	if !found {
		return Database{}, nil, false
	}
	project, rest, found := strings.Cut(rest, "/databases/")
	if !found || project == "" || strings.Contains(project, "/") || !utf8.ValidString(project) {
		return Database{}, nil, false
	}
	database, rest, found := strings.Cut(rest, "/documents")
	if !found || database == "" || strings.Contains(database, "/") || !utf8.ValidString(database) {
		return Database{}, nil, false
	}
	path = []string{}
	for rest != "" {
		if rest[0] != '/' {
			return Database{}, nil, false
		}
		rest = rest[1:]
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if ids.Validate(rest[:end], "segment") != nil {
			return Database{}, nil, false
		}
		path = append(path, rest[:end])
		rest = rest[end:]
	}
	return Database{Project: project, Database: database}, path, true
}

// FuzzParseName checks the Parse functions against the documented form: each accepts exactly
// the names of its kind (the root or documents as parents, documents, collections), returns the
// path the name spells, and formats it back to the same name, which parses again to the same
// result. ParseDatabase accepts exactly projects/{project}/databases/{database} and names it back.
func FuzzParseName(f *testing.F) {
	for _, seed := range nameSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		wantDB, wantPath, valid := documentedName(name)
		parsers := []struct {
			name  string
			parse func(string) (Database, []string, error)
			kind  func(path []string) bool
		}{
			{"ParseDocumentName", ParseDocumentName, func(p []string) bool { return len(p) > 0 && len(p)%2 == 0 }},
			{"ParseParent", ParseParent, func(p []string) bool { return len(p)%2 == 0 }},
			{"ParseCollectionName", ParseCollectionName, func(p []string) bool { return len(p)%2 == 1 }},
		}
		for _, p := range parsers {
			db, path, err := p.parse(name)
			want := valid && p.kind(wantPath)
			if err != nil {
				if want {
					t.Fatalf("%s(%q) = %v; the name is of its kind (database %+v, path %q)", p.name, name, err, wantDB, wantPath)
				}
				if db != (Database{}) || path != nil {
					t.Fatalf("%s(%q) fails but returns %+v %q", p.name, name, db, path)
				}
				continue
			}
			if !want {
				t.Fatalf("%s(%q) accepts a name that is not of its kind (documented form ok = %v, path %q)", p.name, name, valid, wantPath)
			}
			if db != wantDB || !slices.Equal(path, wantPath) {
				t.Fatalf("%s(%q) = %+v %q, want %+v %q", p.name, name, db, path, wantDB, wantPath)
			}
			formatted := db.DocumentName(path)
			if formatted != name {
				t.Fatalf("%s(%q) formats back as %q", p.name, name, formatted)
			}
			db2, path2, err := p.parse(formatted)
			if err != nil || db2 != db || !slices.Equal(path2, path) {
				t.Fatalf("%s(%q) = %+v %q, %v; first parse gave %+v %q", p.name, formatted, db2, path2, err, db, path)
			}
			if got, want := NameSize(path), 16+len(formatted)-len(db.DocumentsRoot()); got != want {
				t.Fatalf("NameSize(%q) = %d, want %d (16 plus each segment and its slash)", path, got, want)
			}
		}

		db, err := ParseDatabase(name)
		project, database, isDB := documentedDatabase(name)
		switch {
		case err != nil && isDB:
			t.Fatalf("ParseDatabase(%q) = %v for a database name", name, err)
		case err == nil && !isDB:
			t.Fatalf("ParseDatabase(%q) accepts a name that is not projects/{project}/databases/{database}", name)
		case err == nil && (db.Project != project || db.Database != database || db.Name() != name):
			t.Fatalf("ParseDatabase(%q) = %+v, named %q", name, db, db.Name())
		}
	})
}

// documentedDatabase restates the form projects/{project}/databases/{database}.
func documentedDatabase(name string) (project, database string, ok bool) {
	rest, found := strings.CutPrefix(name, "projects/")
	if !found {
		return "", "", false
	}
	project, database, found = strings.Cut(rest, "/databases/")
	for _, id := range []string{project, database} {
		if !found || id == "" || strings.Contains(id, "/") || !utf8.ValidString(id) {
			return "", "", false
		}
	}
	return project, database, true
}

// FuzzFormatName checks format→parse: a database and a path of valid ids format to a name that
// parses back to them; a path with an invalid id formats to a name that does not parse to it.
// segments holds the path with '|' between segments (so a segment here never holds '|').
func FuzzFormatName(f *testing.F) {
	f.Add("p", "(default)", "users|alice")
	f.Add("p", "d", "users|alice|posts")
	f.Add("prøj", "δb", "c|a\x00b|c2|é")
	f.Add("p", "d", "")
	f.Add("p", "d", "c||d")
	f.Add("p", "d", "c|a/b")
	f.Add("p", "d", "c|__id__")
	f.Add("p/q", "d", "c|a")
	f.Fuzz(func(t *testing.T, project, database, segments string) {
		path := []string{}
		if segments != "" {
			path = strings.Split(segments, "|")
		}
		db := Database{Project: project, Database: database}
		name := db.DocumentName(path)
		valid := project != "" && database != "" && !strings.Contains(project, "/") && !strings.Contains(database, "/") &&
			utf8.ValidString(project) && utf8.ValidString(database)
		for _, seg := range path {
			valid = valid && ids.Validate(seg, "segment") == nil
		}
		gotDB, gotPath, err := ParseParent(name)
		if len(path)%2 == 1 {
			gotDB, gotPath, err = ParseCollectionName(name)
		}
		if !valid {
			if err == nil && gotDB == db && slices.Equal(gotPath, path) {
				t.Fatalf("%+v %q has an invalid part, yet its name %q parses back to it", db, path, name)
			}
			return
		}
		if err != nil || gotDB != db || !slices.Equal(gotPath, path) {
			t.Fatalf("%+v %q formats as %q, which parses to %+v %q, %v", db, path, name, gotDB, gotPath, err)
		}
		if dbName, err := ParseDatabase(db.Name()); err != nil || dbName != db {
			t.Fatalf("ParseDatabase(%q) = %+v, %v", db.Name(), dbName, err)
		}
	})
}
