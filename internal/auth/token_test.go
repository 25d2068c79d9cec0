package auth

import (
	"context"
	"encoding/base64"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func TestNewToken(t *testing.T) {
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	body, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		t.Fatalf("token %q does not start with %q", tok, TokenPrefix)
	}
	if b, err := base64.RawURLEncoding.DecodeString(body); err != nil || len(b) != 32 {
		t.Errorf("token body %q: %d bytes, %v; want 32 bytes of unpadded base64url", body, len(b), err)
	}
	if hash != HashToken(tok) || len(hash) != 64 {
		t.Errorf("hash %q, want HashToken's %q", hash, HashToken(tok))
	}
	if _, err := parseHash(hash); err != nil {
		t.Errorf("the policy file refuses the hash: %v", err)
	}
	other, _, _ := NewToken()
	if other == tok {
		t.Error("two tokens are the same")
	}
	pol, err := Parse([]byte(`{"principals": [{"id": "p", "token_sha256": "` + hash + `", "prefixes": [""], "permissions": ["read"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := pol.byToken(tok); p == nil || p.ID != "p" {
		t.Errorf("the new token does not authenticate: %v", p)
	}
}

// TestTokenHeaders: the ways a token is sent, and sent wrong.
func TestTokenHeaders(t *testing.T) {
	t.Parallel()
	var seen atomic.Value // the principal id the handler ran as
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, _ := PrincipalFrom(ctx)
		seen.Store(p.ID)
		return handler(ctx, req)
	}
	e := newEnv(t, envOptions{principals: testPrincipals, unary: record})
	tests := []struct {
		name string
		md   []string // key, value pairs
		want string   // the principal; "" for UNAUTHENTICATED
	}{
		{"x-tally-token", []string{TokenHeader, tokWebRW}, "web-rw"},
		{"bearer", []string{"authorization", "Bearer " + tokWebRW}, "web-rw"},
		{"bearer in lower case", []string{"authorization", "bearer " + tokWebRW}, "web-rw"},
		{"x-tally-token wins over authorization", []string{TokenHeader, tokWebRW, "authorization", "Bearer eyJ.an-id-token"}, "web-rw"},
		{"an invalid x-tally-token is not rescued by authorization", []string{TokenHeader, tokUnknown, "authorization", "Bearer " + tokAdmin}, ""},
		{"another scheme is no token", []string{"authorization", "Basic " + tokAdmin}, ""},
		{"bearer without a token", []string{"authorization", "Bearer "}, ""},
		{"two authorization headers", []string{"authorization", "Bearer " + tokWebRW, "authorization", "Bearer " + tokWebRW}, ""},
		{"empty x-tally-token", []string{TokenHeader, ""}, ""},
		{"two x-tally-tokens", []string{TokenHeader, tokWebRW, TokenHeader, tokAdmin}, ""},
		{"token too long", []string{TokenHeader, strings.Repeat("x", maxTokenBytes+1)}, ""},
		{"token with a suffix", []string{TokenHeader, tokWebRW + "x"}, ""},
		{"token prefix", []string{TokenHeader, tokWebRW[:len(tokWebRW)-1]}, ""},
		{"token's hash", []string{TokenHeader, HashToken(tokWebRW)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen.Store("")
			ctx := metadata.AppendToOutgoingContext(testContext(t), tt.md...)
			_, err := e.client.Increment(ctx, &tallyv1.IncrementRequest{Name: name("web-h"), Delta: 1})
			switch {
			case tt.want == "" && status.Code(err) != codes.Unauthenticated:
				t.Errorf("got %v, want Unauthenticated", err)
			case tt.want != "" && (err != nil || seen.Load() != tt.want):
				t.Errorf("got %v as %q, want success as %q", err, seen.Load(), tt.want)
			}
		})
	}
}
