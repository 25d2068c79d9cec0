package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/emulator/ttl"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseConfig(t *testing.T) {
	good := writeFile(t, "ttl.json", `{"policies":[{"collection_group":"idempotency","field":"expire_at"}]}`)
	badField := writeFile(t, "bad-field.json", `{"policies":[{"collection_group":"idempotency","field":"expire at"}]}`)
	notJSON := writeFile(t, "not.json", `idempotency=expire_at`)
	missing := filepath.Join(t.TempDir(), "missing.json")

	tests := []struct {
		name         string
		args         []string
		wantErr      string // substring; empty for success
		wantPolicies []ttl.Policy
		wantInterval time.Duration
	}{
		{"defaults", []string{"--in-memory"}, "", nil, 5 * time.Second},
		{
			"repeated --ttl",
			[]string{"--in-memory", "--ttl", "idempotency=expire_at", "--ttl", "sessions=meta.`expires at`", "--ttl-interval", "250ms"},
			"", []ttl.Policy{{CollectionGroup: "idempotency", Field: "expire_at"}, {CollectionGroup: "sessions", Field: "meta.`expires at`"}},
			250 * time.Millisecond,
		},
		{
			"--ttl-config with --ttl",
			[]string{"--data-dir", "/tmp/x", "--ttl-config", good, "--ttl", "sessions=exp"},
			"", []ttl.Policy{{CollectionGroup: "sessions", Field: "exp"}, {CollectionGroup: "idempotency", Field: "expire_at"}},
			5 * time.Second,
		},
		{"--ttl without =", []string{"--in-memory", "--ttl", "idempotency"}, "expected GROUP=FIELD", nil, 0},
		{"--ttl with a bad group", []string{"--in-memory", "--ttl", "a/b=expire_at"}, "collection group id \"a/b\" must not contain '/'", nil, 0},
		{"--ttl with a reserved group", []string{"--in-memory", "--ttl", "__x__=expire_at"}, "reserved", nil, 0},
		{"--ttl with a bad field", []string{"--in-memory", "--ttl", "idempotency=expire-at"}, "must be a simple name", nil, 0},
		{"--ttl with no field", []string{"--in-memory", "--ttl", "idempotency="}, "the field must not be empty", nil, 0},
		{"--ttl twice on one group", []string{"--in-memory", "--ttl", "g=a", "--ttl", "g=b"}, "at most one TTL field", nil, 0},
		{"--ttl and --ttl-config on one group", []string{"--in-memory", "--ttl-config", good, "--ttl", "idempotency=other"}, "at most one TTL field", nil, 0},
		{"--ttl-config with a bad field", []string{"--in-memory", "--ttl-config", badField}, "--ttl-config " + badField, nil, 0},
		{"--ttl-config not JSON", []string{"--in-memory", "--ttl-config", notJSON}, "decoding the policy file", nil, 0},
		{"--ttl-config missing", []string{"--in-memory", "--ttl-config", missing}, "no such file", nil, 0},
		{"--ttl-interval zero", []string{"--in-memory", "--ttl-interval", "0s"}, "--ttl-interval 0s must be positive", nil, 0},
		{"--ttl-interval not a duration", []string{"--in-memory", "--ttl-interval", "often"}, "invalid value", nil, 0},
		{"no storage", []string{}, "--data-dir is required", nil, 0},
		{"both storages", []string{"--in-memory", "--data-dir", "/tmp/x"}, "mutually exclusive", nil, 0},
		{"bad port", []string{"--in-memory", "--port", "70000"}, "not a TCP port", nil, 0},
		{"short retention", []string{"--in-memory", "--version-retention", "30s"}, "below the minimum", nil, 0},
		{"stray argument", []string{"--in-memory", "extra"}, "unexpected arguments", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tt.args, err)
			}
			policies, err := cfg.TTLPolicies()
			if err != nil {
				t.Fatalf("TTLPolicies: %v", err)
			}
			if !slices.Equal(policies, tt.wantPolicies) {
				t.Fatalf("TTLPolicies = %+v, want %+v", policies, tt.wantPolicies)
			}
			if cfg.TTLInterval != tt.wantInterval {
				t.Fatalf("TTLInterval = %s, want %s", cfg.TTLInterval, tt.wantInterval)
			}
		})
	}
}

func TestPrintTTLPolicies(t *testing.T) {
	tests := []struct {
		name     string
		policies []ttl.Policy
		want     []string
	}{
		{"none", nil, []string{"No TTL policies"}},
		{"two", []ttl.Policy{{CollectionGroup: "idempotency", Field: "expire_at"}, {CollectionGroup: "s", Field: "meta.exp"}},
			[]string{"applied every 5s", `collection group "idempotency" expires documents at field expire_at`, `collection group "s" expires documents at field meta.exp`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printTTLPolicies(&b, tt.policies, 5*time.Second)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Fatalf("output %q lacks %q", b.String(), w)
				}
			}
		})
	}
}

func TestIndexFlags(t *testing.T) {
	indexes := writeFile(t, "firestore.indexes.json", `{
  "indexes": [{"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [
    {"fieldPath": "x", "order": "ASCENDING"}, {"fieldPath": "q", "order": "ASCENDING"}]}],
  "fieldOverrides": [{"collectionGroup": "idempotency", "fieldPath": "expire_at", "ttl": true, "indexes": []}]
}`)
	invalid := writeFile(t, "invalid.json", `{"indexes": [{"collectionGroup": "items", "queryScope": "COLLECTION", "fields": []}]}`)
	missing := filepath.Join(t.TempDir(), "missing.json")
	ttlFile := writeFile(t, "ttl.json", `{"policies":[{"collection_group":"idempotency","field":"expire_at"}]}`)

	tests := []struct {
		name         string
		args         []string
		wantErr      string
		wantIndexes  int // composite indexes read
		wantPolicies []ttl.Policy
	}{
		{"checks on without a file", []string{"--in-memory"}, "", 0, nil},
		{"--indexes", []string{"--in-memory", "--indexes", indexes}, "", 1, []ttl.Policy{{CollectionGroup: "idempotency", Field: "expire_at"}}},
		{"--indexes with --no-index-check keeps its TTL", []string{"--in-memory", "--indexes", indexes, "--no-index-check"}, "", 1, []ttl.Policy{{CollectionGroup: "idempotency", Field: "expire_at"}}},
		{"the same TTL from --ttl-config and --indexes", []string{"--in-memory", "--indexes", indexes, "--ttl-config", ttlFile}, "", 1, []ttl.Policy{{CollectionGroup: "idempotency", Field: "expire_at"}}},
		{"another TTL field for the group", []string{"--in-memory", "--indexes", indexes, "--ttl", "idempotency=other"}, "at most one TTL field", 0, nil},
		{"--indexes invalid", []string{"--in-memory", "--indexes", invalid}, "--indexes " + invalid + ": index declaration: indexes[0] has 0 fields", 0, nil},
		{"--indexes missing", []string{"--in-memory", "--indexes", missing}, "no such file", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tt.args, err)
			}
			f, err := cfg.IndexFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := 0; f != nil {
				got = len(f.Indexes)
				if got != tt.wantIndexes {
					t.Fatalf("%d composite indexes, want %d", got, tt.wantIndexes)
				}
			} else if tt.wantIndexes != 0 {
				t.Fatalf("no index file, want %d indexes", tt.wantIndexes)
			}
			policies, err := cfg.TTLPolicies()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(policies, tt.wantPolicies) {
				t.Fatalf("TTLPolicies = %+v, want %+v", policies, tt.wantPolicies)
			}
		})
	}
}

func TestPrintIndexChecks(t *testing.T) {
	two := &index.File{Indexes: []index.Index{{}, {}}, FieldOverrides: []index.FieldOverride{{}}}
	tests := []struct {
		name    string
		cfg     Config
		indexes *index.File
		want    string
	}{
		{"off", Config{NoIndexCheck: true, Indexes: "f.json"}, two, "Index checks off (--no-index-check)"},
		{"automatic only", Config{}, nil, "Index checks on, with the automatic single-field indexes only"},
		{"declared", Config{Indexes: "f.json"}, two, "Index checks on: 2 composite indexes and 1 field overrides from f.json."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printIndexChecks(&b, &tt.cfg, tt.indexes)
			if !strings.Contains(b.String(), tt.want) {
				t.Fatalf("output %q lacks %q", b.String(), tt.want)
			}
		})
	}
}
