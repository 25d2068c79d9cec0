package value

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxFieldPathBytes is the longest field path string Firestore accepts.
const MaxFieldPathBytes = 1500

// FieldPath names a field inside a document: one map key per nesting level.
type FieldPath []string

// ParseFieldPath parses the dot-separated field path syntax. Each segment is either a simple
// name ([A-Za-z_][A-Za-z_0-9]*) or a name quoted in backticks, inside which a backslash escapes
// a backtick or a backslash. Unquoted segments that are not simple names are rejected, as
// production rejects them ("Invalid property path").
func ParseFieldPath(s string) (FieldPath, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: a field path must not be empty", ErrInvalidFieldPath)
	case len(s) > MaxFieldPathBytes:
		return nil, fmt.Errorf("%w: %d bytes is longer than the limit of %d", ErrInvalidFieldPath, len(s), MaxFieldPathBytes)
	case !utf8.ValidString(s):
		return nil, fmt.Errorf("%w %q: a field path must be valid UTF-8", ErrInvalidFieldPath, s)
	}
	var path FieldPath
	for i := 0; ; {
		seg, next, err := parseSegment(s, i)
		if err != nil {
			return nil, fmt.Errorf("%w %q: segment %d %s", ErrInvalidFieldPath, s, len(path)+1, err)
		}
		path = append(path, seg)
		if next == len(s) {
			return path, nil
		}
		// parseSegment stops only at the end or at a '.', which must be followed by a segment.
		i = next + 1
	}
}

// parseSegment reads the segment starting at byte i and returns it with the index of the byte
// after it (len(s) or the index of the '.' that ends it). The error completes the sentence
// "segment N ...".
func parseSegment(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '`' {
		return parseQuoted(s, i)
	}
	end := strings.IndexByte(s[i:], '.')
	if end < 0 {
		end = len(s)
	} else {
		end += i
	}
	seg := s[i:end]
	switch {
	case seg == "":
		return "", 0, errors.New("is empty")
	case !isSimpleName(seg):
		return "", 0, fmt.Errorf("%q must be a simple name ([A-Za-z_][A-Za-z_0-9]*) or quoted with backticks", seg)
	}
	return seg, end, nil
}

func parseQuoted(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '\\':
			if j+1 == len(s) {
				return "", 0, errors.New("ends with an unfinished escape")
			}
			if e := s[j+1]; e != '`' && e != '\\' {
				return "", 0, fmt.Errorf("has an invalid escape %q: only \\` and \\\\ are allowed", s[j:j+2])
			}
			b.WriteByte(s[j+1])
			j++
		case '`':
			end := j + 1
			switch {
			case b.Len() == 0:
				return "", 0, errors.New("is empty")
			case end < len(s) && s[end] != '.':
				return "", 0, fmt.Errorf("has %q after its closing backtick; expected '.' or the end", s[end])
			}
			return b.String(), end, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("has an unterminated backtick")
}

func isSimpleName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// String formats p in the canonical syntax that ParseFieldPath accepts: simple names as they
// are, every other segment in backticks with backticks and backslashes escaped.
func (p FieldPath) String() string {
	var b strings.Builder
	for i, seg := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		writeSegment(&b, seg)
	}
	return b.String()
}

func writeSegment(b *strings.Builder, seg string) {
	if isSimpleName(seg) {
		b.WriteString(seg)
		return
	}
	b.WriteByte('`')
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c == '`' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(seg[i])
	}
	b.WriteByte('`')
}

// Equal reports whether p and q name the same field.
func (p FieldPath) Equal(q FieldPath) bool {
	return slices.Equal(p, q)
}

// IsPrefixOf reports whether p is q or one of q's ancestors.
func (p FieldPath) IsPrefixOf(q FieldPath) bool {
	return len(p) <= len(q) && slices.Equal(p, q[:len(p)])
}

// CompareFieldPaths orders field paths segment by segment, each by its UTF-8 bytes; a path
// sorts before its descendants.
func CompareFieldPaths(p, q FieldPath) int {
	return slices.Compare(p, q)
}
