package ids

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		wantErr string
	}{
		{name: "simple", id: "alice"},
		{name: "single char", id: "a"},
		{name: "max length", id: strings.Repeat("a", MaxBytes)},
		{name: "max length multibyte", id: strings.Repeat("é", MaxBytes/2)},
		{name: "two underscores", id: "__"},
		{name: "three underscores", id: "___"},
		{name: "leading underscores only", id: "__x"},
		{name: "trailing underscores only", id: "x__"},
		{name: "dots inside", id: "a.b..c"},
		{name: "three dots", id: "..."},
		{name: "spaces and symbols", id: " a b!@#$%^&*()"},
		{name: "unicode", id: "日本語😀"},
		{name: "empty", id: "", wantErr: "document id must not be empty"},
		{name: "over max length", id: strings.Repeat("a", MaxBytes+1), wantErr: "1501 bytes, longer than the limit of 1500"},
		{name: "over max length multibyte", id: strings.Repeat("é", MaxBytes/2) + "x", wantErr: "longer than the limit"},
		{name: "invalid UTF-8", id: "a\xffb", wantErr: "valid UTF-8"},
		{name: "truncated rune", id: "\xe6\x97", wantErr: "valid UTF-8"},
		{name: "slash", id: "a/b", wantErr: "must not contain '/'"},
		{name: "lone slash", id: "/", wantErr: "must not contain '/'"},
		{name: "dot", id: ".", wantErr: `must not be "."`},
		{name: "dot dot", id: "..", wantErr: `must not be ".."`},
		{name: "reserved", id: "__x__", wantErr: "reserved"},
		{name: "reserved four underscores", id: "____", wantErr: "reserved"},
		{name: "reserved name", id: "__name__", wantErr: "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, Validate(tt.id, "document"), tt.wantErr)
		})
	}
}

func TestValidateNamesKind(t *testing.T) {
	for _, kind := range []string{"document", "collection"} {
		t.Run(kind, func(t *testing.T) {
			checkErr(t, Validate("", kind), kind+" id must not be empty")
		})
	}
}

func TestIsReserved(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false}, {"_", false}, {"__", false}, {"___", false}, {"____", true},
		{"__a__", true}, {"__a_", false}, {"_a__", false}, {"a__b__", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := IsReserved(tt.in); got != tt.want {
				t.Errorf("IsReserved(%q) = %v, want %v", tt.in, got, tt.want)
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
