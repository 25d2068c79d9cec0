package ids_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/internal/ids"
)

// reservedForm is the documented reserved form, written as the regular expression the rules
// quote; (?s) lets ".*" span newlines, which ids may hold.
var reservedForm = regexp.MustCompile(`(?s)^__.*__$`)

// ruleViolation restates Firestore's id rules independently of Validate, in the order the rules
// are documented, and names the first one id breaks ("" for a valid id).
func ruleViolation(id string) string {
	switch {
	case len(id) == 0:
		return "empty"
	case len(id) > 1500:
		return "longer than the limit"
	case !utf8.ValidString(id):
		return "valid UTF-8"
	case strings.IndexByte(id, '/') >= 0:
		return "must not contain '/'"
	case id == "." || id == "..":
		return "must not be"
	case reservedForm.MatchString(id):
		return "reserved"
	}
	return ""
}

var kinds = []string{"document", "collection", "counter"}

// maxMessageBytes bounds a complaint: it repeats at most 64 bytes of the id, quoted (up to 4
// bytes for each), so that a status message carrying it stays short whatever the id.
const maxMessageBytes = 64*4 + 128

// FuzzValidate checks Validate against the rules restated above: it accepts exactly the ids that
// follow them, and its complaint names the kind and the first rule broken, in a few hundred bytes
// of valid UTF-8 at most. Every accepted id also
// round-trips, as a collection and as a document id, through a resource name.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		"a", "alice", "__", "___", "____", "__x__", "__x", "x__", "_\n_", "__\n__", ".", "..", "...",
		"a/b", "/", "\xff", "a\xe6\x97", "\x00", "é", strings.Repeat("a", 1500), strings.Repeat("é", 750) + "x",
	} {
		f.Add(seed)
	}
	db := resource.Database{Project: "p", Database: "d"}
	f.Fuzz(func(t *testing.T, id string) {
		kind := kinds[len(id)%len(kinds)]
		err := ids.Validate(id, kind)
		want := ruleViolation(id)
		if got := ids.IsReserved(id); got != reservedForm.MatchString(id) {
			t.Fatalf("IsReserved(%q) = %v, the form __.*__ says %v", id, got, !got)
		}
		if want != "" {
			if err == nil {
				t.Fatalf("Validate(%q) accepts an id that breaks the rule %q", id, want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, kind+" id") || !strings.Contains(msg, want) {
				t.Fatalf("Validate(%q, %q) = %q; want it to start with %q and say %q", id, kind, msg, kind+" id", want)
			}
			if msg := err.Error(); len(msg) > maxMessageBytes || !utf8.ValidString(msg) {
				t.Fatalf("Validate(%.80q…) complains in %d bytes (valid UTF-8: %v), more than %d: %.200q…", id, len(msg), utf8.ValidString(msg), maxMessageBytes, msg)
			}
			return
		}
		if err != nil {
			t.Fatalf("Validate(%q) = %v for an id that follows every rule", id, err)
		}
		name := db.DocumentName([]string{"c", id, id})
		gotDB, path, perr := resource.ParseCollectionName(name)
		if perr != nil || gotDB != db || !slices.Equal(path, []string{"c", id, id}) {
			t.Fatalf("valid id %q: %q parses to %v %q, %v", id, name, gotDB, path, perr)
		}
	})
}
