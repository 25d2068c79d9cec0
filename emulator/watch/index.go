package watch

import (
	"slices"

	"github.com/tally-dev/tally/emulator/resource"
)

// index finds the targets a written document may concern without looking at every target: by
// the document's name, its collection, its collection id (collection groups) and its database
// (kindless queries, which read every collection below a parent). Targets found still decide
// for themselves whether the document matches.
type index struct {
	docs     map[string]map[*target]struct{} // document name → document targets naming it
	colls    map[string]map[*target]struct{} // collection name → queries of that collection
	groups   map[string]map[*target]struct{} // database name + "/" + collection id → group queries
	kindless map[string]map[*target]struct{} // database name → queries of every collection
}

func newIndex() index {
	return index{
		docs:     map[string]map[*target]struct{}{},
		colls:    map[string]map[*target]struct{}{},
		groups:   map[string]map[*target]struct{}{},
		kindless: map[string]map[*target]struct{}{},
	}
}

// keys lists the index entries of t.
func (t *target) indexKeys() (m func(ix *index) map[string]map[*target]struct{}, keys []string) {
	db := t.stream.db
	if t.query == nil {
		keys = make([]string, 0, len(t.docs))
		for _, p := range t.docs {
			keys = append(keys, db.DocumentName(p))
		}
		return func(ix *index) map[string]map[*target]struct{} { return ix.docs }, keys
	}
	parent, coll, all := t.query.Scope()
	switch {
	case all && coll == "":
		return func(ix *index) map[string]map[*target]struct{} { return ix.kindless }, []string{db.Name()}
	case all:
		return func(ix *index) map[string]map[*target]struct{} { return ix.groups }, []string{db.Name() + "/" + coll}
	default:
		return func(ix *index) map[string]map[*target]struct{} { return ix.colls }, []string{db.DocumentName(append(parent, coll))}
	}
}

func (ix *index) add(t *target) {
	m, keys := t.indexKeys()
	mm := m(ix)
	for _, k := range keys {
		set := mm[k]
		if set == nil {
			set = map[*target]struct{}{}
			mm[k] = set
		}
		set[t] = struct{}{}
	}
}

func (ix *index) remove(t *target) {
	m, keys := t.indexKeys()
	mm := m(ix)
	for _, k := range keys {
		if set := mm[k]; set != nil {
			delete(set, t)
			if len(set) == 0 {
				delete(mm, k)
			}
		}
	}
}

// visit calls fn for every target that may concern the document at path of db.
func (ix *index) visit(db resource.Database, path []string, fn func(*target)) {
	if len(path) < 2 {
		return
	}
	name := db.DocumentName(path)
	for t := range ix.docs[name] {
		fn(t)
	}
	if len(ix.colls) > 0 {
		for t := range ix.colls[db.DocumentName(path[:len(path)-1])] {
			fn(t)
		}
	}
	if len(ix.groups) > 0 {
		for t := range ix.groups[db.Name()+"/"+path[len(path)-2]] {
			if t.below(path) {
				fn(t)
			}
		}
	}
	if len(ix.kindless) > 0 {
		for t := range ix.kindless[db.Name()] {
			if t.below(path) {
				fn(t)
			}
		}
	}
}

// below reports whether path lies below the parent of t's collection group query.
func (t *target) below(path []string) bool {
	return len(path) > len(t.parent) && slices.Equal(path[:len(t.parent)], t.parent)
}
