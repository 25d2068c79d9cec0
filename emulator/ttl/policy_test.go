package ttl

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tally-dev/tally/emulator/value"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    Policy
		path    value.FieldPath
		wantErr string // substring of the error; empty for success
	}{
		{"idempotency=expire_at", Policy{"idempotency", "expire_at"}, value.FieldPath{"expire_at"}, ""},
		{"sessions=meta.expire", Policy{"sessions", "meta.expire"}, value.FieldPath{"meta", "expire"}, ""},
		{"s=`expires at`", Policy{"s", "`expires at`"}, value.FieldPath{"expires at"}, ""},
		{"s=`a=b`", Policy{"s", "`a=b`"}, value.FieldPath{"a=b"}, ""},
		{"my-group=x", Policy{"my-group", "x"}, value.FieldPath{"x"}, ""},
		{"idempotency", Policy{}, nil, "expected GROUP=FIELD"},
		{"", Policy{}, nil, "expected GROUP=FIELD"},
		{"=expire_at", Policy{}, nil, "collection group id must not be empty"},
		{"idempotency=", Policy{}, nil, "the field must not be empty"},
		{"a/b=expire_at", Policy{}, nil, "must not contain '/'"},
		{"__reserved__=expire_at", Policy{}, nil, "reserved"},
		{"..=expire_at", Policy{}, nil, `must not be ".."`},
		{"g=1st", Policy{}, nil, "must be a simple name"},
		{"g=a..b", Policy{}, nil, "is empty"},
		{"g=a=b", Policy{}, nil, "must be a simple name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePolicy(tt.in)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePolicy(%q) error = %v, want ErrInvalidPolicy containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParsePolicy(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
			path, err := got.fieldPath()
			if err != nil || !slices.Equal(path, tt.path) {
				t.Fatalf("field path = %q, %v; want %q", path, err, tt.path)
			}
		})
	}
}

func TestValidatePolicies(t *testing.T) {
	tests := []struct {
		name     string
		policies []Policy
		wantErr  string
	}{
		{"none", nil, ""},
		{"distinct groups", []Policy{{"a", "x"}, {"b", "x"}}, ""},
		{"one invalid", []Policy{{"a", "x"}, {"b", "not valid"}}, "policies[1]"},
		{"two fields on one group", []Policy{{"a", "x"}, {"b", "y"}, {"a", "z"}}, "at most one TTL field"},
		{"the same policy twice", []Policy{{"a", "x"}, {"a", "x"}}, "at most one TTL field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePolicies(tt.policies)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidatePolicies: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidatePolicies error = %v, want ErrInvalidPolicy containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadConfig(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []Policy
		wantErr string
	}{
		{
			"two policies",
			`{"policies":[{"collection_group":"idempotency","field":"expire_at"},{"collection_group":"s","field":"meta.exp"}]}`,
			[]Policy{{"idempotency", "expire_at"}, {"s", "meta.exp"}}, "",
		},
		{"no policies", `{"policies":[]}`, nil, ""},
		{"empty object", `{}`, nil, ""},
		{"trailing whitespace", "{\"policies\":[]}\n\n", nil, ""},
		{"not JSON", `idempotency=expire_at`, nil, "decoding the policy file"},
		{"misspelt key", `{"policy":[]}`, nil, "unknown field"},
		{"misspelt policy key", `{"policies":[{"group":"a","field":"x"}]}`, nil, "unknown field"},
		{"invalid field", `{"policies":[{"collection_group":"a","field":"x y"}]}`, nil, "policies[0]"},
		{"missing group", `{"policies":[{"field":"x"}]}`, nil, "collection group id must not be empty"},
		{"duplicate group", `{"policies":[{"collection_group":"a","field":"x"},{"collection_group":"a","field":"y"}]}`, nil, "at most one TTL field"},
		{"trailing data", `{"policies":[]} {}`, nil, "data after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadConfig(strings.NewReader(tt.json))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadConfig error = %v, want ErrInvalidPolicy containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadConfig: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ReadConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}
