package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Metadata keys that carry a token. x-tally-token wins over authorization when both are sent, so
// that authorization can carry something else, such as a Cloud Run IAM ID token.
const (
	TokenHeader         = "x-tally-token"
	AuthorizationHeader = "authorization"
)

// TokenPrefix starts every token NewToken makes, so that a leaked token is recognisable (secret
// scanners, logs) as a tally token. Tokens made otherwise need not have it.
const TokenPrefix = "tly_"

// maxTokenBytes bounds a presented token: longer ones are malformed, not hashed.
const maxTokenBytes = 4096

// NewToken returns a new random token, 32 bytes from crypto/rand in unpadded base64url after
// TokenPrefix, and its SHA-256 in hex, the token_sha256 of the policy file.
func NewToken() (token, sha256hex string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken returns a token's SHA-256 in lowercase hex, as the policy file's token_sha256 holds it.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// errMalformedToken is a token header that holds no usable token. Its message never repeats
// what was sent.
var errMalformedToken = errors.New("malformed token")

// tokenFrom returns the token the call presents, and whether it presents one. A token header
// that is present but unusable (empty, repeated, too long, or a Bearer without a token) is an
// error, so that a mangled token is refused rather than silently replaced by a certificate. An
// authorization header of another scheme is not a tally token and is ignored.
func tokenFrom(ctx context.Context) (token string, present bool, err error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if vals := md.Get(TokenHeader); len(vals) > 0 {
		return checkToken(vals)
	}
	vals := md.Get(AuthorizationHeader)
	if len(vals) == 0 {
		return "", false, nil
	}
	if len(vals) > 1 {
		return "", true, errMalformedToken
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") { // auth schemes are case-insensitive (RFC 9110)
		return "", false, nil
	}
	return checkToken([]string{strings.TrimSpace(rest)})
}

func checkToken(vals []string) (string, bool, error) {
	if len(vals) != 1 || vals[0] == "" || len(vals[0]) > maxTokenBytes {
		return "", true, errMalformedToken
	}
	return vals[0], true, nil
}
