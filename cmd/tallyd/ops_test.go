package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/auth"
	"github.com/tally-dev/tally/internal/testlog"
	"github.com/tally-dev/tally/internal/testpki"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// principal is one entry of a tokens file.
type principal struct {
	ID           string   `json:"id"`
	TokenSHA256  string   `json:"token_sha256,omitempty"`
	CertIdentity string   `json:"cert_identity,omitempty"`
	Prefixes     []string `json:"prefixes"`
	Permissions  []string `json:"permissions"`
}

func writeTokens(t *testing.T, path string, ps ...principal) {
	t.Helper()
	b, err := json.Marshal(map[string][]principal{"principals": ps})
	if err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed, as an operator's tooling would: Watch never sees half a file.
	tmp := path + ".tmp"
	testpki.WriteFile(t, tmp, b)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, auth.TokenHeader, token)
}

func newToken(t *testing.T) (token, hash string) {
	t.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return token, hash
}

// TestTokensThroughTallyd: tallyd with --tokens-file refuses calls without a valid token, keeps
// a token to its prefixes and permissions, and takes a rewritten file and SIGHUP without a
// restart. Every refused write is checked to have applied nothing.
func TestTokensThroughTallyd(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.json")
	admin, adminHash := newToken(t)
	writer, writerHash := newToken(t)
	writeTokens(t, tokens,
		principal{ID: "ops", TokenSHA256: adminHash, Prefixes: []string{""}, Permissions: []string{"read", "write", "admin"}},
		principal{ID: "web", TokenSHA256: writerHash, Prefixes: []string{"web-"}, Permissions: []string{"write"}})
	srv := startTallyd(t, "", "--tokens-file", tokens)
	c := dial(t, srv.addr)
	ctx := t.Context()
	inc := func(ctx context.Context, id string) error {
		_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/" + id, Delta: 1})
		return err
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		call func(context.Context) error
		want codes.Code
	}{
		{"no token", ctx, func(ctx context.Context) error { return inc(ctx, "web-a") }, codes.Unauthenticated},
		{"unknown token", withToken(ctx, "tly_unknown"), func(ctx context.Context) error { return inc(ctx, "web-a") }, codes.Unauthenticated},
		{"outside the prefix", withToken(ctx, writer), func(ctx context.Context) error { return inc(ctx, "app-a") }, codes.PermissionDenied},
		{"write token reading", withToken(ctx, writer), func(ctx context.Context) error {
			_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/web-a"})
			return err
		}, codes.PermissionDenied},
		{"write token resetting", withToken(ctx, writer), func(ctx context.Context) error {
			_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/web-b"})
			return err
		}, codes.PermissionDenied},
		{"write token inside its prefix", withToken(ctx, writer), func(ctx context.Context) error { return inc(ctx, "web-b") }, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(tc.call(tc.ctx)); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	adminCtx := withToken(ctx, admin)
	list, err := c.ListCounters(adminCtx, &tallyv1.ListCountersRequest{View: tallyv1.CounterView_COUNTER_VIEW_FULL})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, counter := range list.GetCounters() {
		got = append(got, fmt.Sprintf("%s=%d", counter.GetName(), counter.GetValue()))
	}
	if want := []string{"counters/web-b=1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counters after the calls: %v, want %v (a refused call applied something)", got, want)
	}

	// The writer's token is revoked and another takes its place; SIGHUP (or Watch, whichever
	// comes first) loads the file while tallyd serves.
	next, nextHash := newToken(t)
	writeTokens(t, tokens,
		principal{ID: "ops", TokenSHA256: adminHash, Prefixes: []string{""}, Permissions: []string{"read", "write", "admin"}},
		principal{ID: "web", TokenSHA256: nextHash, Prefixes: []string{"web-"}, Permissions: []string{"write"}})
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for status.Code(inc(withToken(ctx, writer), "web-b")) != codes.Unauthenticated {
		if time.Now().After(deadline) {
			t.Fatal("the revoked token is still accepted")
		}
		time.Sleep(20 * time.Millisecond) // polling a reload that has no event to wait on
	}
	if err := inc(withToken(ctx, next), "web-b"); err != nil {
		t.Fatalf("the new token: %v", err)
	}
}

// TestTLSAndClientCertificatesThroughTallyd: with --tls-cert, --tls-key and --client-ca,
// tallyd serves only TLS; a client certificate from the CA with a matching cert_identity
// needs no token, and one from another CA is refused.
func TestTLSAndClientCertificatesThroughTallyd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, other := testpki.NewCA(t, "tally test CA"), testpki.NewCA(t, "another CA")
	certFile, keyFile := ca.Issue(t, testpki.Leaf{Server: true, CN: "tallyd"}).Write(t, dir, "server")
	clientCA := ca.WriteCA(t, dir, "client-ca")
	tokens := filepath.Join(dir, "tokens.json")
	writeTokens(t, tokens, principal{ID: "ops", CertIdentity: "ops.tally.test", Prefixes: []string{""}, Permissions: []string{"read", "write", "admin"}})
	srv := startTallyd(t, "", "--tls-cert", certFile, "--tls-key", keyFile, "--client-ca", clientCA, "--tokens-file", tokens)

	good := ca.Issue(t, testpki.Leaf{CN: "ops.tally.test"}).TLS(t)
	forged := other.Issue(t, testpki.Leaf{CN: "ops.tally.test"}).TLS(t)
	for _, tc := range []struct {
		name string
		opts []grpc.DialOption
		want codes.Code
	}{
		{"certificate from the CA", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(ca.ClientConfig(good)))}, codes.OK},
		{"no certificate", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(ca.ClientConfig()))}, codes.Unauthenticated},
		{"certificate from another CA", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(ca.ClientConfig(forged)))}, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := grpc.NewClient(srv.addr, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err = tallyv1.NewCounterServiceClient(conn).Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/tls", Delta: 1})
			if got := status.Code(err); got != tc.want {
				t.Errorf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
	// Plaintext gets no answer from a TLS port.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := dial(t, srv.addr).GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/tls"}); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext call: %v, want UNAVAILABLE", err)
	}
	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(credentials.NewTLS(ca.ClientConfig(good))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := tallyv1.NewCounterServiceClient(conn).GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/tls"}); err != nil || got.GetValue() != 1 {
		t.Errorf("counters/tls = %v, %v; want 1 (only the certificate from the CA applied)", got.GetValue(), err)
	}
}

// TestMetricsScrapedFromTallyd: /metrics on the admin listener, parsed with the Prometheus
// text parser, counts the increments tallyd applied and the RPCs it served.
func TestMetricsScrapedFromTallyd(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "", "--admin-addr", "127.0.0.1:0")
	c := dial(t, srv.addr)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.Increment(t.Context(), &tallyv1.IncrementRequest{Name: "counters/scraped", Delta: 1, IdempotencyKey: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := c.Increment(t.Context(), &tallyv1.IncrementRequest{Name: "counters/scraped", Delta: 1, IdempotencyKey: "0"}); err != nil {
		t.Fatal(err)
	}
	families := scrape(t, srv.admin)
	sum := func(name string) float64 {
		f, ok := families[name]
		if !ok {
			t.Fatalf("no metric %s in the scrape", name)
		}
		var total float64
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return total
	}
	if got := sum("tally_increments_total"); got != n {
		t.Errorf("tally_increments_total = %v, want %d", got, n)
	}
	if got := sum("tally_duplicates_total"); got != 1 {
		t.Errorf("tally_duplicates_total = %v, want 1", got)
	}
	if got := sum("rpc_server_call_duration_seconds"); got < n+1 {
		t.Errorf("rpc_server_call_duration_seconds counts %v calls, want at least %d", got, n+1)
	}
	if got := sum("tally_batch_size"); got < 1 {
		t.Errorf("tally_batch_size recorded %v batches", got)
	}
}

// TestAuditLinesCarryTheTraceID: an admin operation is logged as an audit line with the
// caller's identity and the trace id the caller propagated (W3C traceparent), with tracing
// export off as by default; the JSON line has Cloud Logging's field names, its trace named in
// the project.
func TestAuditLinesCarryTheTraceID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.json")
	token, hash := newToken(t)
	writeTokens(t, tokens, principal{ID: "ops", TokenSHA256: hash, Prefixes: []string{""}, Permissions: []string{"admin"}})
	addr, logs := startTallydLogged(t, "--data-dir", dir, "--tokens-file", tokens, "--log-json",
		"--storage", "embedded", "--project", "audit-project")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	callCtx := metadata.AppendToOutgoingContext(withToken(t.Context(), token), "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if _, err := dial(t, addr).CreateCounter(callCtx, &tallyv1.CreateCounterRequest{CounterId: "audited"}); err != nil {
		t.Fatal(err)
	}
	var audit map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["message"] == "audit" {
			audit = rec
		}
	}
	if audit == nil {
		t.Fatalf("no audit line in:\n%s", logs.String())
	}
	if want := "projects/audit-project/traces/" + traceID; audit["logging.googleapis.com/trace"] != want {
		t.Errorf("audit line's trace = %v, want %s: %v", audit["logging.googleapis.com/trace"], want, audit)
	}
	if audit["severity"] != "INFO" {
		t.Errorf("audit line's severity = %v, want INFO", audit["severity"])
	}
	if !strings.Contains(fmt.Sprint(audit), "ops") {
		t.Errorf("audit line names no principal: %v", audit)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), hash) {
		t.Error("the logs hold the token or its hash")
	}
}

// startTallydLogged runs tallyd in-process like startTallyd, and returns its address and what it
// logs at info level and above.
func startTallydLogged(t *testing.T, args ...string) (string, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	args = append([]string{"--addr", "127.0.0.1:0", "--admin-addr=", "--data-dir", t.TempDir()}, args...)
	go func() { done <- run(ctx, args, envMap(nil), io.Discard, logs, ready) }()
	var at listening
	select {
	case at = <-ready:
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return at.grpc, logs
}

// TestSIGHUPWithoutTokensFile: SIGHUP, the usual request to reload, does not stop a tallyd that
// has nothing to reload (its default action would end the process without a graceful shutdown).
func TestSIGHUPWithoutTokensFile(t *testing.T) {
	addr, logs := startTallydLogged(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "SIGHUP: no tokens file to reload") {
		if time.Now().After(deadline) {
			t.Fatalf("tallyd did not take SIGHUP; its log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond) // the signal is delivered asynchronously, with no event to wait on
	}
	if _, err := dial(t, addr).Increment(t.Context(), &tallyv1.IncrementRequest{Name: "counters/after-hup", Delta: 1}); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
}
