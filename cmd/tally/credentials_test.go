package main

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testpki"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// seenCall is what a server saw of one call besides its request.
type seenCall struct {
	md        metadata.MD
	encrypted bool   // over TLS
	clientCN  string // the verified client certificate's common name, if any
}

// callLog records every call a server receives, through an interceptor.
type callLog struct {
	mu    sync.Mutex
	calls []seenCall
}

func (l *callLog) option() grpc.ServerOption {
	return grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		c := seenCall{md: md.Copy()}
		if p, ok := peer.FromContext(ctx); ok {
			if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
				c.encrypted = true
				if chains := info.State.VerifiedChains; len(chains) > 0 {
					c.clientCN = chains[0][0].Subject.CommonName
				}
			}
		}
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
		return handler(ctx, req)
	})
}

func (l *callLog) recorded() []seenCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// onlyCall returns the one call the server saw.
func (l *callLog) onlyCall(t *testing.T) seenCall {
	t.Helper()
	calls := l.recorded()
	if len(calls) != 1 {
		t.Fatalf("the server saw %d calls, want 1", len(calls))
	}
	return calls[0]
}

const (
	testToken   = "tly_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	testIDToken = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ0YWxseSJ9.c2lnbmF0dXJl"
)

func TestCredentialsAreSent(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		wantToken     []string // x-tally-token values
		wantAuthorize []string // authorization values
	}{
		{name: "no credentials", args: nil},
		{name: "token flag", args: []string{"--token", testToken}, wantToken: []string{testToken}},
		{name: "token from the environment", env: map[string]string{tokenEnv: testToken}, wantToken: []string{testToken}},
		{name: "token flag beats the environment", args: []string{"--token", testToken}, env: map[string]string{tokenEnv: "tly_other"},
			wantToken: []string{testToken}},
		{name: "ID token flag", args: []string{"--id-token", testIDToken}, wantAuthorize: []string{"Bearer " + testIDToken}},
		{name: "ID token from the environment", env: map[string]string{idTokenEnv: testIDToken}, wantAuthorize: []string{"Bearer " + testIDToken}},
		{name: "both, in their own headers", args: []string{"--token", testToken, "--id-token", testIDToken},
			wantToken: []string{testToken}, wantAuthorize: []string{"Bearer " + testIDToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log callLog
			addr, _ := startFakeWith(t, replyWith(counter("x", 1, 1)), log.option())
			args := append(append([]string{"--addr", addr}, tc.args...), "get", "x")
			got := runTallyWith(context.Background(), tc.env, "", args...)
			if got.code != exitOK {
				t.Fatalf("exit code %d, stderr:\n%s", got.code, got.stderr)
			}
			call := log.onlyCall(t)
			if v := call.md.Get(tokenHeader); !slices.Equal(v, tc.wantToken) {
				t.Errorf("%s = %q, want %q", tokenHeader, v, tc.wantToken)
			}
			if v := call.md.Get(idTokenHeader); !slices.Equal(v, tc.wantAuthorize) {
				t.Errorf("%s = %q, want %q", idTokenHeader, v, tc.wantAuthorize)
			}
			if call.encrypted {
				t.Errorf("the call was encrypted without TLS flags")
			}
		})
	}
}

// TestTokensAreNotSentInPlaintext: a token is refused, before anything is
// sent, over plaintext to an address that is not this machine's.
func TestTokensAreNotSentInPlaintext(t *testing.T) {
	const hint = ": anyone on the network path could read the token and call the server with it; " +
		"add --tls (or --ca-cert FILE), or --insecure if the network is trusted\nRun 'tally help' for usage.\n"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "token to a private address", args: []string{"--addr", "10.1.2.3:8080", "--token", testToken},
			want: "tally: refusing to send --token over plaintext to 10.1.2.3:8080" + hint},
		{name: "token from the environment", args: []string{"--addr", "tally.example.com:8080"}, env: map[string]string{tokenEnv: testToken},
			want: "tally: refusing to send --token over plaintext to tally.example.com:8080" + hint},
		{name: "ID token", args: []string{"--addr", "[2001:db8::1]:443", "--id-token", testIDToken},
			want: "tally: refusing to send --id-token over plaintext to [2001:db8::1]:443" + hint},
		{name: "both", args: []string{"--addr", "0.0.0.0:8080", "--token", testToken, "--id-token", testIDToken},
			want: "tally: refusing to send --token and --id-token over plaintext to 0.0.0.0:8080" + hint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runTallyWith(context.Background(), tc.env, "", append(tc.args, "get", "x")...)
			checkOutcome(t, got, outcome{code: exitUsage, stderr: tc.want})
		})
	}

	// The same calls are made when the user accepts the risk, or sends no
	// token: they get as far as trying to connect.
	blackhole := "192.0.2.1:8080" // TEST-NET-1: nothing answers there
	for _, args := range [][]string{
		{"--addr", blackhole, "--token", testToken, "--insecure"},
		{"--addr", blackhole},
	} {
		got := runTally(context.Background(), append(args, "--timeout", "200ms", "get", "x")...)
		if got.code != exitUnreachable {
			t.Errorf("tally %q: exit code %d, want %d (unreachable); stderr:\n%s", args, got.code, exitUnreachable, got.stderr)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"0.0.0.0": false, "::": false, "10.0.0.1": false, "192.168.1.2": false, "tally.internal": false,
		"localhost.example.com": false, "": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestCallCredentialsCheckTheConnection: the credentials themselves refuse
// a plaintext connection to another machine, whatever dial checked.
func TestCallCredentialsCheckTheConnection(t *testing.T) {
	var log callLog
	addr, fake := startFakeWith(t, replyWith(counter("x", 1, 1)), log.option())
	remote := callCredentials{token: testToken, addr: "tally.example.com:8080"}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(remote))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = tallyv1.NewCounterServiceClient(conn).GetCounter(context.Background(), &tallyv1.GetCounterRequest{Name: "counters/x"})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "refusing to send --token over plaintext to tally.example.com:8080") {
		t.Errorf("call over plaintext: %v, want UNAUTHENTICATED refusing to send the token", err)
	}
	if calls := log.recorded(); len(calls) != 0 || len(fake.recorded()) != 0 {
		t.Errorf("the server saw %d calls, want none", len(calls))
	}

	tlsInfo := credentials.TLSInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	plainInfo := plaintextInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}
	for _, tc := range []struct {
		name  string
		creds callCredentials
		info  credentials.AuthInfo
		want  bool // headers sent
	}{
		{"TLS to another machine", remote, tlsInfo, true},
		{"plaintext to another machine", remote, plainInfo, false},
		{"no connection information", remote, nil, false},
		{"plaintext with --insecure", callCredentials{token: testToken, addr: remote.addr, insecure: true}, plainInfo, true},
		{"plaintext to this machine", callCredentials{token: testToken, addr: "127.0.0.1:8080", loopback: true}, plainInfo, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{AuthInfo: tc.info})
			md, err := tc.creds.GetRequestMetadata(ctx)
			if tc.want {
				if err != nil || md[tokenHeader] != testToken {
					t.Errorf("GetRequestMetadata = %v, %v; want the token", md, err)
				}
				return
			}
			if status.Code(err) != codes.Unauthenticated || md != nil {
				t.Errorf("GetRequestMetadata = %v, %v; want UNAUTHENTICATED and no headers", md, err)
			}
		})
	}
}

// plaintextInfo describes a connection without security, as gRPC's
// insecure credentials do.
type plaintextInfo struct{ credentials.CommonAuthInfo }

func (plaintextInfo) AuthType() string { return "insecure" }

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA := testpki.NewCA(t, "server-ca")
	serverCAFile := serverCA.WriteCA(t, dir, "server-ca")
	// Valid for localhost and tally.test, not for 127.0.0.1: --server-name
	// makes the difference.
	serverCert := serverCA.Issue(t, testpki.Leaf{Server: true, NoLoopback: true, CN: "tally-server", DNS: []string{"localhost", "tally.test"}}).TLS(t)
	clientCA := testpki.NewCA(t, "client-ca")
	clientCert, clientKey := clientCA.Issue(t, testpki.Leaf{CN: "ops.tally.internal"}).Write(t, dir, "ops.tally.internal")
	strangerCert, strangerKey := testpki.NewCA(t, "other-ca").Issue(t, testpki.Leaf{CN: "stranger"}).Write(t, dir, "stranger")

	var log callLog
	addr, _ := startFakeWith(t, replyWith(counter("x", 1, 1)), log.option(), grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientCAs:    clientCA.Pool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
	})))
	_, port, _ := net.SplitHostPort(addr)
	byName := net.JoinHostPort("localhost", port)

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // contained in stderr
		wantCN     string // the client certificate the server verified
	}{
		{name: "CA file, token over TLS", args: []string{"--addr", byName, "--ca-cert", serverCAFile, "--token", testToken}},
		{name: "server name overrides the address", args: []string{"--addr", addr, "--ca-cert", serverCAFile, "--server-name", "tally.test"}},
		{name: "address the certificate does not name", args: []string{"--addr", addr, "--ca-cert", serverCAFile},
			wantCode: exitUnreachable, wantStderr: "cannot validate certificate for 127.0.0.1"},
		{name: "system roots do not know the CA", args: []string{"--addr", byName, "--tls"},
			wantCode: exitUnreachable, wantStderr: "certificate signed by unknown authority"},
		{name: "client certificate", args: []string{"--addr", byName, "--ca-cert", serverCAFile, "--client-cert", clientCert, "--client-key", clientKey},
			wantCN: "ops.tally.internal"},
		// Go's TLS client offers only a certificate the server's CAs issued;
		// the call goes on without one, and the server sees no identity.
		{name: "client certificate from another CA", args: []string{"--addr", byName, "--ca-cert", serverCAFile, "--client-cert", strangerCert, "--client-key", strangerKey}},
		{name: "plaintext to a TLS server", args: []string{"--addr", byName},
			wantCode: exitUnreachable, wantStderr: "cannot reach the server"},
		{name: "missing CA file", args: []string{"--addr", byName, "--ca-cert", missing},
			wantCode: exitUsage, wantStderr: "tally: --ca-cert: open " + missing + ": no such file or directory\n"},
		{name: "CA file without a certificate", args: []string{"--addr", byName, "--ca-cert", notPEM},
			wantCode: exitUsage, wantStderr: "tally: --ca-cert " + notPEM + ": no PEM certificate in the file\n"},
		{name: "client key that does not exist", args: []string{"--addr", byName, "--client-cert", clientCert, "--client-key", missing},
			wantCode: exitUsage, wantStderr: "tally: --client-cert " + clientCert + ", --client-key " + missing + ": open " + missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(log.recorded())
			got := runTally(context.Background(), append(tc.args, "--timeout", "5s", "get", "x")...)
			if got.code != tc.wantCode || !strings.Contains(got.stderr, tc.wantStderr) {
				t.Fatalf("exit code %d, stderr:\n%s\nwant exit code %d and stderr containing %q", got.code, got.stderr, tc.wantCode, tc.wantStderr)
			}
			calls := log.recorded()[before:]
			if tc.wantCode != exitOK {
				if len(calls) != 0 {
					t.Errorf("the server saw %d calls, want none", len(calls))
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("the server saw %d calls, want 1", len(calls))
			}
			if !calls[0].encrypted {
				t.Errorf("the call was not over TLS")
			}
			if calls[0].clientCN != tc.wantCN {
				t.Errorf("verified client certificate %q, want %q", calls[0].clientCN, tc.wantCN)
			}
			if slices.Contains(tc.args, "--token") && !slices.Equal(calls[0].md.Get(tokenHeader), []string{testToken}) {
				t.Errorf("%s = %q, want the token", tokenHeader, calls[0].md.Get(tokenHeader))
			}
		})
	}
}
