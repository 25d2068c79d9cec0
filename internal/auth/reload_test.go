package auth

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// The policies the reload tests switch between: both keep admin, the first has web-rw, the
// second "new" instead.
var (
	policyOld = []testPrincipal{testPrincipals[0], testPrincipals[2]}
	policyNew = []testPrincipal{testPrincipals[0],
		{ID: "new", Token: "tly_new", Prefixes: []string{"web-"}, Permissions: []string{"write"}}}
)

// incrementCode is the code of an Increment of web-r with token.
func (e *env) incrementCode(t *testing.T, token string) codes.Code {
	t.Helper()
	_, err := e.client.Increment(withToken(testContext(t), token), &tallyv1.IncrementRequest{Name: name("web-r"), Delta: 1})
	return status.Code(err)
}

// wantCodes checks the Increment code of each token.
func (e *env) wantCodes(t *testing.T, want map[string]codes.Code) {
	t.Helper()
	for token, code := range want {
		if got := e.incrementCode(t, token); got != code {
			t.Errorf("token %q: %v, want %v", token, got, code)
		}
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: policyOld})
	e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.OK, "tly_new": codes.Unauthenticated})

	writeFile(t, e.tokensFile, policyJSON(t, policyNew...))
	// Not reloaded yet: the policy in force is the one loaded.
	e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.OK, "tly_new": codes.Unauthenticated})
	if err := e.auth.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.Unauthenticated, "tly_new": codes.OK, tokAdmin: codes.OK})

	for _, bad := range []string{`{"principals": [`, `{"principals": [{"id": "x"}]}`, ``} {
		writeFile(t, e.tokensFile, []byte(bad))
		err := e.auth.Reload()
		if err == nil || !strings.Contains(err.Error(), "previous policy stays in force") {
			t.Errorf("Reload of %q: %v, want an error", bad, err)
		}
		e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.Unauthenticated, "tly_new": codes.OK})
	}
	if err := os.Remove(e.tokensFile); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.Reload(); err == nil {
		t.Error("Reload of a missing file succeeded")
	}
	e.wantCodes(t, map[string]codes.Code{"tly_new": codes.OK})
	if n := len(e.logLines(t, "auth policy not reloaded")); n != 4 {
		t.Errorf("%d failed reloads logged, want 4", n)
	}
}

// startWatch runs Watch until the test ends and returns a channel that receives after each poll.
func startWatch(t *testing.T, e *env) <-chan struct{} {
	t.Helper()
	polled := make(chan struct{})
	e.auth.polled = func() { polled <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.auth.Watch(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case <-done:
				return
			case <-polled: // a poll may be waiting to report
			}
		}
	})
	return polled
}

// afterChange waits until Watch has looked at the file since the caller changed it: the second
// poll that reports after the change started after it.
func afterChange(t *testing.T, polled <-chan struct{}) {
	t.Helper()
	for range 2 {
		select {
		case <-polled:
		case <-time.After(rpcTimeout):
			t.Fatal("Watch did not poll")
		}
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: policyOld, pollInterval: time.Millisecond})
	polled := startWatch(t, e)
	reloads := func() int { return len(e.logLines(t, "auth policy reloaded")) }

	writeFile(t, e.tokensFile, policyJSON(t, policyNew...))
	afterChange(t, polled)
	e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.Unauthenticated, "tly_new": codes.OK})
	if n := reloads(); n != 1 {
		t.Fatalf("%d reloads logged, want 1", n)
	}

	t.Run("unchanged content", func(t *testing.T) {
		pol := e.auth.Policy()
		writeFile(t, e.tokensFile, policyJSON(t, policyNew...)) // a new file, same bytes
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(e.tokensFile, later, later); err != nil {
			t.Fatal(err)
		}
		afterChange(t, polled)
		if e.auth.Policy() != pol || reloads() != 1 {
			t.Error("a file with the same content was reloaded")
		}
	})

	t.Run("bad file", func(t *testing.T) {
		writeFile(t, e.tokensFile, []byte(`{"principals": "nobody"}`))
		afterChange(t, polled)
		afterChange(t, polled)
		e.wantCodes(t, map[string]codes.Code{"tly_new": codes.OK})
		if n := len(e.logLines(t, "auth policy not reloaded")); n != 1 {
			t.Errorf("the bad file was reported %d times, want once", n)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		if err := os.Remove(e.tokensFile); err != nil {
			t.Fatal(err)
		}
		afterChange(t, polled)
		e.wantCodes(t, map[string]codes.Code{"tly_new": codes.OK})
	})

	t.Run("restored", func(t *testing.T) {
		writeFile(t, e.tokensFile, policyJSON(t, policyOld...))
		afterChange(t, polled)
		e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.OK, "tly_new": codes.Unauthenticated})
	})

	// A token revoked by rewriting the file in place with a policy of the same size, within the
	// modification time's granularity: only the content tells the change.
	t.Run("same size and time", func(t *testing.T) {
		before, err := os.Stat(e.tokensFile)
		if err != nil {
			t.Fatal(err)
		}
		revoked := append([]testPrincipal(nil), policyOld...)
		revoked[1].Token = tokWebRW[:len(tokWebRW)-1] + "x"
		data := policyJSON(t, revoked...)
		if int64(len(data)) != before.Size() {
			t.Fatalf("the rewritten policy has %d bytes, the old %d: the test needs the same size", len(data), before.Size())
		}
		if err := os.WriteFile(e.tokensFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(e.tokensFile, before.ModTime(), before.ModTime()); err != nil {
			t.Fatal(err)
		}
		afterChange(t, polled)
		e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.Unauthenticated, revoked[1].Token: codes.OK})
	})
}

// TestReloadKeepsCallsInFlight: a call authorised before a reload that revokes its token
// finishes and is applied, while later calls with that token are refused; and calls made while
// the policy is reloaded over and over all succeed.
func TestReloadKeepsCallsInFlight(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if r, ok := req.(*tallyv1.IncrementRequest); ok && r.GetName() == name("web-held") {
			once.Do(func() { close(entered) })
			<-release
		}
		return handler(ctx, req)
	}
	e := newEnv(t, envOptions{principals: policyOld, unary: hold})
	e.seed(t, "web-held")

	held := make(chan error, 1)
	go func() {
		_, err := e.client.Increment(withToken(testContext(t), tokWebRW), &tallyv1.IncrementRequest{Name: name("web-held"), Delta: 1})
		held <- err
	}()
	<-entered
	writeFile(t, e.tokensFile, policyJSON(t, policyNew...))
	if err := e.auth.Reload(); err != nil {
		t.Fatal(err)
	}
	e.wantCodes(t, map[string]codes.Code{tokWebRW: codes.Unauthenticated})
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the call in flight during the reload: %v", err)
	}
	if got := e.state(t, "web-held")["web-held"].Value; got != 6 {
		t.Errorf("web-held is %d, want 6", got)
	}

	// Reloads racing calls: admin is in both policies, so no call may fail. The callers call
	// until the reloads are done.
	const callers, reloads = 4, 50
	files := [][]byte{policyJSON(t, policyOld...), policyJSON(t, policyNew...)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range reloads {
			if err := replaceFile(e.tokensFile, files[n%2]); err != nil {
				t.Error(err)
			}
			if err := e.auth.Reload(); err != nil {
				t.Error(err)
			}
		}
	}()
	var wg sync.WaitGroup
	var applied atomic.Int64
	for range callers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				_, err := e.client.Increment(withToken(testContext(t), tokAdmin), &tallyv1.IncrementRequest{Name: name("web-race"), Delta: 1})
				if err != nil {
					t.Errorf("a call during reloads: %v", err)
					return
				}
				applied.Add(1)
			}
		})
	}
	wg.Wait()
	<-done
	if got := e.state(t, "web-race")["web-race"].Value; got != applied.Load() {
		t.Errorf("web-race is %d, want %d", got, applied.Load())
	}
}
