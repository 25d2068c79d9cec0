package client

import (
	"testing"

	"github.com/tally-dev/tally/internal/auth"
)

// TestHeaderNames keeps the client's header names equal to the ones tallyd reads, which the
// client names itself so as not to link the server's auth package.
func TestHeaderNames(t *testing.T) {
	t.Parallel()
	if tokenHeader != auth.TokenHeader || authorizationHeader != auth.AuthorizationHeader {
		t.Errorf("the client sends %s and %s; tallyd reads %s and %s", tokenHeader, authorizationHeader, auth.TokenHeader, auth.AuthorizationHeader)
	}
}
