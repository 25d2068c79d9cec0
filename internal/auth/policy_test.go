package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hashA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // SHA-256 of "hello"

func TestParse(t *testing.T) {
	data := `{"principals": [
		{"id": "web", "token_sha256": "` + hashA + `", "prefixes": ["web-", "shared."], "permissions": ["read", "write"]},
		{"id": "ops", "cert_identity": "ops.tally.internal", "prefixes": [""], "permissions": ["admin"]}
	]}`
	pol, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if pol.Len() != 2 {
		t.Fatalf("Len %d, want 2", pol.Len())
	}
	web := pol.byToken("hello")
	if web == nil || web.ID != "web" || web.Permissions != Read|Write {
		t.Fatalf("byToken(hello) = %+v", web)
	}
	if !web.Allows("web-1") || !web.Allows("shared.x") || web.Allows("webx") || web.Allows("other") {
		t.Errorf("web's prefixes %v allow the wrong counters", web.Prefixes)
	}
	if p := pol.byToken("hello "); p != nil {
		t.Errorf("byToken of another token = %+v", p)
	}
	ops, err := pol.byCert(&x509.Certificate{Subject: pkix.Name{CommonName: "ops.tally.internal"}})
	if err != nil || ops.ID != "ops" || !ops.Has(Admin) || ops.Has(Write) || ops.Has(Read) {
		t.Errorf("byCert = %+v, %v; admin should not imply write or read", ops, err)
	}
}

func TestParseErrors(t *testing.T) {
	principal := func(fields string) string { return `{"principals": [` + fields + `]}` }
	valid := `"id": "web", "token_sha256": "` + hashA + `", "prefixes": ["web-"], "permissions": ["read"]`
	tests := []struct {
		name string
		data string
		want string // a substring of the error
	}{
		{"not JSON", `{"principals": [`, "is not valid JSON"},
		{"not an object", `[]`, "the file: is not a JSON object"},
		{"trailing data", principal(`{`+valid+`}`) + ` {}`, "more after its closing brace"},
		{"unknown top-level field", `{"principals": [], "version": 1}`, `the file: unknown field "version"`},
		{"field in another case", `{"Principals": []}`, `unknown field "Principals"`},
		{"no principals", `{}`, "principals: is required"},
		{"null principals", `{"principals": null}`, "principals: is required"},
		{"principals not a list", `{"principals": {}}`, "principals: is not a list"},
		{"unknown principal field", principal(`{` + valid + `, "token": "x"}`), `principals[0]: unknown field "token"`},
		{"field given twice", principal(`{` + valid + `, "id": "other"}`), `principals[0]: field "id" is given twice`},
		{"field of another case", principal(`{"ID": "web"}`), `principals[0]: unknown field "ID"`},
		{"no id", principal(`{"token_sha256": "` + hashA + `", "prefixes": [""], "permissions": ["read"]}`), "principals[0]: id: is required"},
		{"id not a string", principal(`{"id": 7}`), "principals[0]: id: is a JSON number, want a string"},
		{"prefixes not a list", principal(`{"id": "web", "prefixes": "web-"}`), `principals[0] ("web"): prefixes: is a JSON string, want a list of strings`},
		{"no credentials", principal(`{"id": "web", "prefixes": [""], "permissions": ["read"]}`), `principals[0] ("web"): has neither token_sha256 nor cert_identity`},
		{"hash too short", principal(`{"id": "web", "token_sha256": "abc", "prefixes": [""], "permissions": ["read"]}`), `principals[0] ("web"): token_sha256: is not 64 lowercase hex digits`},
		{"hash in upper case", principal(`{"id": "web", "token_sha256": "` + strings.ToUpper(hashA) + `", "prefixes": [""], "permissions": ["read"]}`), `token_sha256: is not 64 lowercase hex`},
		{"hash not hex", principal(`{"id": "web", "token_sha256": "` + strings.Repeat("g", 64) + `", "prefixes": [""], "permissions": ["read"]}`), `token_sha256: is not 64 lowercase hex`},
		{"no prefixes", principal(`{"id": "web", "token_sha256": "` + hashA + `", "permissions": ["read"]}`), `principals[0] ("web"): prefixes: is required`},
		{"empty prefixes", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": [], "permissions": ["read"]}`), `prefixes: is required and must not be empty`},
		{"prefix with a slash", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": ["web-", "web/"], "permissions": ["read"]}`), `principals[0] ("web"): prefixes[1]: "web/" must not contain '/'`},
		{"file not UTF-8", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": ["` + "\xff" + `"], "permissions": ["read"]}`), `the file: is not valid UTF-8`},
		{"prefix twice", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": ["a", "a"], "permissions": ["read"]}`), `prefixes[1]: "a" is also prefixes[0]`},
		{"no permissions", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": [""]}`), `principals[0] ("web"): permissions: is required`},
		{"unknown permission", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": [""], "permissions": ["read", "delete"]}`), `permissions[1]: "delete" is not one of read, write, admin`},
		{"permission in another case", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": [""], "permissions": ["Read"]}`), `permissions[0]: "Read" is not one of`},
		{"permission twice", principal(`{"id": "web", "token_sha256": "` + hashA + `", "prefixes": [""], "permissions": ["read", "read"]}`), `permissions[1]: "read" is listed twice`},
		{"duplicate id", principal(`{` + valid + `}, {"id": "web", "cert_identity": "x", "prefixes": [""], "permissions": ["read"]}`), `principals[1] ("web"): id: "web" is also the id of principals[0]`},
		{"duplicate token", principal(`{` + valid + `}, {"id": "web2", "token_sha256": "` + hashA + `", "prefixes": [""], "permissions": ["read"]}`), `principals[1] ("web2"): token_sha256: is also the token of principals[0] ("web")`},
		{"duplicate cert identity", principal(`{"id": "a", "cert_identity": "x", "prefixes": [""], "permissions": ["read"]}, {"id": "b", "cert_identity": "x", "prefixes": [""], "permissions": ["read"]}`), `principals[1] ("b"): cert_identity: "x" is also the identity of "a"`},
		{"error in a later principal", principal(`{` + valid + `}, {"id": "ops", "cert_identity": "x", "prefixes": [""], "permissions": []}`), `principals[1] ("ops"): permissions: is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseEmptyListRefusesEveryone(t *testing.T) {
	pol, err := Parse([]byte(`{"principals": []}`))
	if err != nil {
		t.Fatal(err)
	}
	if pol.Len() != 0 || pol.byToken("") != nil {
		t.Errorf("an empty policy has principals")
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, []byte(`{"principals": [{"id": ""}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "principals[0]: id: is required") {
		t.Errorf("Load: %v, want an error naming %s and the field", err, path)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestByCert(t *testing.T) {
	pol, err := Parse([]byte(`{"principals": [
		{"id": "cn", "cert_identity": "client.example", "prefixes": [""], "permissions": ["read"]},
		{"id": "dns", "cert_identity": "dns.example", "prefixes": [""], "permissions": ["read"]},
		{"id": "uri", "cert_identity": "spiffe://example/ops", "prefixes": [""], "permissions": ["read"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	spiffe, _ := url.Parse("spiffe://example/ops")
	tests := []struct {
		name string
		cert *x509.Certificate
		want string // principal id; "" for an error
	}{
		{"common name", &x509.Certificate{Subject: pkix.Name{CommonName: "client.example"}}, "cn"},
		{"DNS SAN", &x509.Certificate{Subject: pkix.Name{CommonName: "nobody"}, DNSNames: []string{"x.example", "dns.example"}}, "dns"},
		{"URI SAN", &x509.Certificate{URIs: []*url.URL{spiffe}}, "uri"},
		{"no match", &x509.Certificate{Subject: pkix.Name{CommonName: "nobody"}, DNSNames: []string{"x.example"}}, ""},
		{"several principals", &x509.Certificate{Subject: pkix.Name{CommonName: "client.example"}, DNSNames: []string{"dns.example"}}, ""},
		{"one principal twice", &x509.Certificate{Subject: pkix.Name{CommonName: "client.example"}, DNSNames: []string{"client.example"}}, "cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pol.byCert(tt.cert)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("byCert = %q, want an error", p.ID)
			case tt.want != "" && (err != nil || p.ID != tt.want):
				t.Errorf("byCert = %v, %v; want %q", p, err, tt.want)
			}
		})
	}
}
