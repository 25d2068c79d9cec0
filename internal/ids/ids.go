// Package ids holds Firestore's rules for document and collection ids, the one place they are
// written down. The emulator enforces them on every name it parses; the sharding core applies them
// to counter ids, which become document ids. It depends on nothing, so that the core does not
// import the emulator to learn them.
package ids

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBytes is the longest document or collection id Firestore accepts.
const MaxBytes = 1500

// Validate checks an id against Firestore's rules: valid UTF-8, 1 to MaxBytes bytes, no '/', not
// "." or "..", and not of the reserved form __.*__. kind names the id in error messages
// ("document", "collection", "counter", …), which say what is wrong but not where: the caller
// knows which argument or field held the id.
func Validate(id, kind string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s id must not be empty", kind)
	case len(id) > MaxBytes:
		return fmt.Errorf("%s id is %d bytes, longer than the limit of %d", kind, len(id), MaxBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s id must be valid UTF-8", kind)
	case strings.Contains(id, "/"):
		return fmt.Errorf("%s id %s must not contain '/'", kind, quote(id))
	case id == "." || id == "..":
		return fmt.Errorf("%s id must not be %q", kind, id)
	case IsReserved(id):
		return fmt.Errorf("%s id %s is reserved: ids of the form __.*__ are not allowed", kind, quote(id))
	}
	return nil
}

// maxQuoted bounds how much of an id a complaint repeats: the complaint may end up in a status
// message, which travels in a header.
const maxQuoted = 64

// quote quotes id for a complaint, cut to maxQuoted bytes.
func quote(id string) string {
	if len(id) <= maxQuoted {
		return fmt.Sprintf("%q", id)
	}
	return fmt.Sprintf("%q… (%d bytes)", id[:maxQuoted], len(id))
}

// IsReserved reports whether s has the reserved form __.*__.
func IsReserved(s string) bool {
	return len(s) >= 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__")
}
