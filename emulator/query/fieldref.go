package query

import (
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/value"
)

// nameField is the reserved field path that stands for the document's name.
const nameField = "__name__"

// fieldRef is a compiled field reference: either a document field or the document's name.
type fieldRef struct {
	path   value.FieldPath // nil when isName
	isName bool
}

func parseFieldRef(ref *pb.StructuredQuery_FieldReference, part string) (fieldRef, error) {
	if ref.GetFieldPath() == "" {
		return fieldRef{}, invalidf("%s: a field path is required", part)
	}
	p, err := value.ParseFieldPath(ref.GetFieldPath())
	if err != nil {
		return fieldRef{}, invalidf("%s: %v", part, err)
	}
	if len(p) == 1 && p[0] == nameField {
		return fieldRef{isName: true}, nil
	}
	return fieldRef{path: p}, nil
}

func (f fieldRef) String() string {
	if f.isName {
		return nameField
	}
	return f.path.String()
}

// key identifies the field for de-duplication; no field path joins to "\x01".
func (f fieldRef) key() string {
	if f.isName {
		return "\x01"
	}
	return strings.Join(f.path, "\x00")
}

func compareFieldRefs(a, b fieldRef) int {
	return value.CompareFieldPaths(a.path, b.path)
}
