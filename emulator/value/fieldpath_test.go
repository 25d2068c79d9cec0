package value

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFieldPath(t *testing.T) {
	tests := []struct {
		in        string
		want      FieldPath
		canonical string
	}{
		{"a", FieldPath{"a"}, "a"},
		{"a.b.c", FieldPath{"a", "b", "c"}, "a.b.c"},
		{"foo_bar_17", FieldPath{"foo_bar_17"}, "foo_bar_17"},
		{"_0", FieldPath{"_0"}, "_0"},
		{"__name__", FieldPath{"__name__"}, "__name__"},
		{"`a`", FieldPath{"a"}, "a"},
		{"`x&y`", FieldPath{"x&y"}, "`x&y`"},
		{"foo.`x&y`", FieldPath{"foo", "x&y"}, "foo.`x&y`"},
		{"`a.b`.c", FieldPath{"a.b", "c"}, "`a.b`.c"},
		{"`bak\\`tik`", FieldPath{"bak`tik"}, "`bak\\`tik`"},
		{"`back\\\\slash`", FieldPath{"back\\slash"}, "`back\\\\slash`"},
		{"`0foo`", FieldPath{"0foo"}, "`0foo`"},
		{"` `", FieldPath{" "}, "` `"},
		{"`é`.`😀`", FieldPath{"é", "😀"}, "`é`.`😀`"},
		{"`a-b`.`c/d`.e", FieldPath{"a-b", "c/d", "e"}, "`a-b`.`c/d`.e"},
		{strings.Repeat("a", MaxFieldPathBytes), FieldPath{strings.Repeat("a", MaxFieldPathBytes)}, strings.Repeat("a", MaxFieldPathBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFieldPath(tt.in)
			if err != nil {
				t.Fatalf("ParseFieldPath: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParseFieldPath = %q, want %q", got, tt.want)
			}
			if s := got.String(); s != tt.canonical {
				t.Fatalf("String = %q, want %q", s, tt.canonical)
			}
			again, err := ParseFieldPath(tt.canonical)
			if err != nil || !again.Equal(got) {
				t.Fatalf("canonical form %q parses to %q, %v", tt.canonical, again, err)
			}
		})
	}
}

func TestParseFieldPathErrors(t *testing.T) {
	tests := []struct {
		in, wantMsg string
	}{
		{"", "must not be empty"},
		{".", "segment 1 is empty"},
		{"a.", "segment 2 is empty"},
		{".a", "segment 1 is empty"},
		{"a..b", "segment 2 is empty"},
		{"``", "segment 1 is empty"},
		{"a.``", "segment 2 is empty"},
		{"0foo", "must be a simple name"},
		{"a-b", "must be a simple name"},
		{"a b", "must be a simple name"},
		{"a`b`", "must be a simple name"},
		{"é", "must be a simple name"},
		{"`a", "unterminated backtick"},
		{"a.`b\\`", "unterminated backtick"},
		{"`a\\", "unfinished escape"},
		{"`a\\n`", "invalid escape"},
		{"`a`b", "after its closing backtick"},
		{"`a``b`", "after its closing backtick"},
		{"`a`.", "segment 2 is empty"},
		{"a\xff", "valid UTF-8"},
		{strings.Repeat("a", MaxFieldPathBytes+1), "longer than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFieldPath(tt.in)
			if err == nil {
				t.Fatalf("ParseFieldPath = %q, want an error", got)
			}
			if !errors.Is(err, ErrInvalidFieldPath) {
				t.Errorf("error %v does not wrap ErrInvalidFieldPath", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestFieldPathStringQuotes(t *testing.T) {
	tests := []struct {
		path FieldPath
		want string
	}{
		{FieldPath{}, ""},
		{FieldPath{"a", "B_1"}, "a.B_1"},
		{FieldPath{"a.b"}, "`a.b`"},
		{FieldPath{"`"}, "`\\``"},
		{FieldPath{"\\"}, "`\\\\`"},
		{FieldPath{"1"}, "`1`"},
		{FieldPath{"x", "`\\`"}, "x.`\\`\\\\\\``"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.path.String(); got != tt.want {
				t.Fatalf("String = %q, want %q", got, tt.want)
			}
			if len(tt.path) == 0 {
				return
			}
			back, err := ParseFieldPath(tt.want)
			if err != nil || !back.Equal(tt.path) {
				t.Fatalf("ParseFieldPath(%q) = %q, %v", tt.want, back, err)
			}
		})
	}
}

func TestFieldPathRelations(t *testing.T) {
	tests := []struct {
		p, q            FieldPath
		equal, isPrefix bool
		compare         int
	}{
		{FieldPath{"a"}, FieldPath{"a"}, true, true, 0},
		{FieldPath{"a"}, FieldPath{"a", "b"}, false, true, -1},
		{FieldPath{"a", "b"}, FieldPath{"a"}, false, false, 1},
		{FieldPath{"a", "b"}, FieldPath{"a", "c"}, false, false, -1},
		{FieldPath{"ab"}, FieldPath{"a", "b"}, false, false, 1},
		{FieldPath{"a"}, FieldPath{"ab"}, false, false, -1},
		{FieldPath{"z"}, FieldPath{"é"}, false, false, -1},
		{FieldPath{"B"}, FieldPath{"a"}, false, false, -1},
		{FieldPath{}, FieldPath{"a"}, false, true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.p.String()+" vs "+tt.q.String(), func(t *testing.T) {
			if got := tt.p.Equal(tt.q); got != tt.equal {
				t.Errorf("Equal = %v", got)
			}
			if got := tt.p.IsPrefixOf(tt.q); got != tt.isPrefix {
				t.Errorf("IsPrefixOf = %v", got)
			}
			if got := CompareFieldPaths(tt.p, tt.q); got != tt.compare {
				t.Errorf("CompareFieldPaths = %d, want %d", got, tt.compare)
			}
			if got := CompareFieldPaths(tt.q, tt.p); got != -tt.compare {
				t.Errorf("reversed CompareFieldPaths = %d, want %d", got, -tt.compare)
			}
		})
	}
}

func FuzzParseFieldPath(f *testing.F) {
	for _, seed := range []string{"a", "a.b", "`a.b`.c", "`bak\\`tik`", "`\\\\`", "``", "a..b", "`a", "0a", "`é`", "\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseFieldPath(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidFieldPath) {
				t.Fatalf("ParseFieldPath(%q) error %v does not wrap ErrInvalidFieldPath", s, err)
			}
			return
		}
		if len(p) == 0 {
			t.Fatalf("ParseFieldPath(%q) returned an empty path without an error", s)
		}
		for _, seg := range p {
			if seg == "" {
				t.Fatalf("ParseFieldPath(%q) = %q has an empty segment", s, p)
			}
		}
		canonical := p.String()
		again, err := ParseFieldPath(canonical)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, s, err)
		}
		if !again.Equal(p) {
			t.Fatalf("canonical form %q of %q parses to %q, want %q", canonical, s, again, p)
		}
		if again.String() != canonical {
			t.Fatalf("String is not stable: %q then %q", canonical, again.String())
		}
	})
}
