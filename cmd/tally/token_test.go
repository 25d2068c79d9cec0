package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/internal/auth"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// specPrincipal is a principal as the tokens file format describes it.
type specPrincipal struct {
	ID          string   `json:"id"`
	TokenSHA256 string   `json:"token_sha256"`
	Prefixes    []string `json:"prefixes"`
	Permissions []string `json:"permissions"`
}

func decodeJSON(t *testing.T, text string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", text, err)
	}
}

// checkNewToken checks a printed token and its principal entry.
func checkNewToken(t *testing.T, token string, p specPrincipal, want specPrincipal) {
	t.Helper()
	raw, ok := strings.CutPrefix(token, "tly_")
	if !ok {
		t.Fatalf("token %q does not start with tly_", token)
	}
	if b, err := base64.RawURLEncoding.DecodeString(raw); err != nil || len(b) != 32 {
		t.Errorf("token %q: %d bytes of unpadded base64url (%v), want 32", token, len(b), err)
	}
	sum := sha256.Sum256([]byte(token))
	want.TokenSHA256 = hex.EncodeToString(sum[:])
	if p.ID != want.ID || p.TokenSHA256 != want.TokenSHA256 || !slices.Equal(p.Prefixes, want.Prefixes) || !slices.Equal(p.Permissions, want.Permissions) {
		t.Errorf("principal %+v, want %+v", p, want)
	}
}

func TestTokenNew(t *testing.T) {
	// No server: the command makes no call, and the connection flags, which
	// would refuse the plaintext token, do not matter.
	args := []string{"--addr", "10.1.2.3:1", "--token", "tly_old", "token", "new", "--id", "web-backend",
		"--prefix", "web-", "--permission", "write,read", "--prefix", "counters/app-", "--permission", "read", "--prefix", "web-"}
	want := specPrincipal{ID: "web-backend", Prefixes: []string{"web-", "app-"}, Permissions: []string{"read", "write"}}

	got := runTally(context.Background(), args...)
	if got.code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s", got.code, got.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "token:     ") || !strings.HasPrefix(lines[1], "principal: ") {
		t.Fatalf("stdout:\n%s\nwant a token: line and a principal: line", got.stdout)
	}
	token := strings.TrimPrefix(lines[0], "token:     ")
	var p specPrincipal
	decodeJSON(t, strings.TrimPrefix(lines[1], "principal: "), &p)
	checkNewToken(t, token, p, want)
	if want := "tally: the token is shown only this once; store it now. Add the principal to the \"principals\" list of tallyd's --tokens-file, which keeps only the token's hash.\n"; got.stderr != want {
		t.Errorf("stderr = %q, want %q", got.stderr, want)
	}

	// --json: one object for scripts.
	gotJSON := runTally(context.Background(), append([]string{"--json"}, args...)...)
	if gotJSON.code != exitOK || gotJSON.stderr != "" || strings.Count(gotJSON.stdout, "\n") != 1 {
		t.Fatalf("--json: exit code %d, stdout:\n%s\nstderr:\n%s", gotJSON.code, gotJSON.stdout, gotJSON.stderr)
	}
	var obj struct {
		Token     string        `json:"token"`
		Principal specPrincipal `json:"principal"`
	}
	decodeJSON(t, gotJSON.stdout, &obj)
	checkNewToken(t, obj.Token, obj.Principal, want)
	if obj.Token == token {
		t.Errorf("two runs made the same token %q", token)
	}
}

func TestTokenNewEveryCounter(t *testing.T) {
	got := runTally(context.Background(), "--json", "token", "new", "--id", "ops", "--prefix", "", "--permission", "admin,write,read")
	if got.code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s", got.code, got.stderr)
	}
	var obj struct {
		Token     string        `json:"token"`
		Principal specPrincipal `json:"principal"`
	}
	decodeJSON(t, got.stdout, &obj)
	checkNewToken(t, obj.Token, obj.Principal, specPrincipal{ID: "ops", Prefixes: []string{""}, Permissions: []string{"read", "write", "admin"}})
}

func TestTokenNewUsage(t *testing.T) {
	const usage = "usage: tally [global flags] token new --id ID --prefix P... --permission LIST\n"
	ok := []string{"--id", "a", "--prefix", "p", "--permission", "read"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", ok, "tally: missing subcommand: tally token new\n"},
		{"unknown subcommand", append([]string{"old"}, ok...), "tally: unknown subcommand \"old\": want new\n"},
		{"extra argument", append([]string{"new", "x"}, ok...), "tally: unexpected argument \"x\"\n"},
		{"no id", []string{"new", "--prefix", "p", "--permission", "read"}, "tally: missing --id: every principal needs a unique ID\n"},
		{"no prefix", []string{"new", "--id", "a", "--permission", "read"},
			"tally: missing --prefix: give the counter-ID prefixes the token may touch (--prefix \"\" for every counter)\n"},
		{"prefix with a slash", []string{"new", "--id", "a", "--prefix", "web/", "--permission", "read"},
			"tally: --prefix \"web/\": counter IDs contain no \"/\", so no counter would match\n"},
		{"unknown permission", []string{"new", "--id", "a", "--prefix", "p", "--permission", "read,delete"},
			"tally: --permission \"delete\": want read, write or admin\n"},
		{"empty permission", []string{"new", "--id", "a", "--prefix", "p", "--permission", "read,"},
			"tally: --permission \"\": want read, write or admin\n"},
		{"no permission", []string{"new", "--id", "a", "--prefix", "p"},
			"tally: missing --permission: give some of read, write and admin (--permission read,write)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkOutcome(t, runTally(context.Background(), append([]string{"token"}, tc.args...)...),
				outcome{code: exitUsage, stderr: tc.want + usage})
		})
	}
}

// TestTokenNewWithTheServer: the entry tally token new prints, in a tokens
// file, lets the token it printed call a server that checks tokens with the
// server's own auth package, within the entry's prefixes and permissions.
func TestTokenNewWithTheServer(t *testing.T) {
	made := runTally(context.Background(), "--json", "token", "new", "--id", "reader", "--prefix", "web-", "--permission", "read")
	if made.code != exitOK {
		t.Fatalf("token new: exit code %d, stderr:\n%s", made.code, made.stderr)
	}
	var obj struct {
		Token     string          `json:"token"`
		Principal json.RawMessage `json:"principal"`
	}
	decodeJSON(t, made.stdout, &obj)
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(tokensFile, []byte(`{"principals": [`+string(obj.Principal)+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Options{TokensFile: tokensFile})
	if err != nil {
		t.Fatalf("the server refuses the tokens file: %v", err)
	}
	addr, _ := startFakeWith(t, func(req proto.Message) (proto.Message, error) {
		if _, ok := req.(*tallyv1.IncrementRequest); ok {
			return &tallyv1.IncrementResponse{CommitTime: created}, nil
		}
		return counter("web-home", 3, 1), nil
	}, grpc.UnaryInterceptor(a.UnaryInterceptor()))

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // start of stderr
	}{
		{name: "the token reads its counters", args: []string{"--token", obj.Token, "get", "web-home"}},
		{name: "next to an ID token", args: []string{"--token", obj.Token, "--id-token", testIDToken, "get", "web-home"}},
		{name: "as the ID token, the token is a bearer token", args: []string{"--id-token", obj.Token, "get", "web-home"}},
		{name: "no token", args: []string{"get", "web-home"}, wantCode: exitFailed, wantErr: "tally: UNAUTHENTICATED: "},
		{name: "another token", args: []string{"--token", testToken, "get", "web-home"}, wantCode: exitFailed, wantErr: "tally: UNAUTHENTICATED: "},
		{name: "outside the prefixes", args: []string{"--token", obj.Token, "get", "api-home"}, wantCode: exitFailed, wantErr: "tally: PERMISSION_DENIED: "},
		{name: "without the write permission", args: []string{"--token", obj.Token, "inc", "web-home"}, wantCode: exitFailed, wantErr: "tally: PERMISSION_DENIED: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runTally(context.Background(), append([]string{"--addr", addr}, tc.args...)...)
			if got.code != tc.wantCode || !strings.HasPrefix(got.stderr, tc.wantErr) {
				t.Errorf("exit code %d, stderr %q; want %d and stderr starting %q", got.code, got.stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
