package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestSIGHUPReloadsTheTokensFile: a tokens file rewritten while tallyd serves comes into force
// on SIGHUP, with the file watch out of the way (it would look only after an hour): before the
// signal the new token is refused, after it the new token is accepted and the revoked one
// refused, and the reload is logged once.
//
// Not parallel: it sets tokensPollInterval, and the signal goes to the whole test process.
func TestSIGHUPReloadsTheTokensFile(t *testing.T) {
	saved := tokensPollInterval
	tokensPollInterval = time.Hour
	t.Cleanup(func() { tokensPollInterval = saved }) // after tallyd's own cleanup, which runs first
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	old, oldHash := newToken(t)
	writeTokens(t, tokens, principal{ID: "web", TokenSHA256: oldHash, Prefixes: []string{""}, Permissions: []string{"write"}})
	addr, logs := startTallydLogged(t, "--tokens-file", tokens)
	c := dial(t, addr)
	inc := func(token string) error {
		_, err := c.Increment(withToken(t.Context(), token), &tallyv1.IncrementRequest{Name: "counters/hup", Delta: 1})
		return err
	}
	reloads := func() int { return strings.Count(logs.String(), "auth policy reloaded") }

	next, nextHash := newToken(t)
	writeTokens(t, tokens, principal{ID: "web", TokenSHA256: nextHash, Prefixes: []string{""}, Permissions: []string{"write"}})
	if err := inc(next); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("the new token before SIGHUP: %v, want UNAUTHENTICATED (nothing should have reloaded the file yet)", err)
	}
	if err := inc(old); err != nil {
		t.Fatalf("the old token before SIGHUP: %v", err)
	}
	if n := reloads(); n != 0 {
		t.Fatalf("%d reloads logged before SIGHUP, want none:\n%s", n, logs.String())
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for status.Code(inc(next)) == codes.Unauthenticated {
		if time.Now().After(deadline) {
			t.Fatalf("the new token is still refused after SIGHUP; tallyd's log:\n%s", logs.String())
		}
		// The signal is delivered asynchronously and the reload sends no event a test could
		// wait on: polling with a deadline is all there is.
		time.Sleep(10 * time.Millisecond)
	}
	if err := inc(next); err != nil {
		t.Fatalf("the new token after SIGHUP: %v", err)
	}
	if err := inc(old); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the revoked token after SIGHUP: %v, want UNAUTHENTICATED", err)
	}
	if n := reloads(); n != 1 {
		t.Errorf("%d reloads logged after one SIGHUP, want 1:\n%s", n, logs.String())
	}
}
