package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/testlog"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/service"
	"github.com/tally-dev/tally/shard"
)

// rpcTimeout bounds every call of a test, so that a stuck call fails the test instead of hanging it.
const rpcTimeout = 20 * time.Second

// The tokens of the test policy (testPrincipals), one per principal.
const (
	tokAdmin   = "tly_admin-token"     // every permission on every counter
	tokWebAll  = "tly_web-all-token"   // every permission on web-
	tokWebRW   = "tly_web-rw-token"    // read and write on web-
	tokWebRO   = "tly_web-ro-token"    // read on web-
	tokWebWO   = "tly_web-wo-token"    // write on web-
	tokUnknown = "tly_not-in-the-file" // in no policy
)

// certIdentity is the cert_identity of the test policy's certificate principal.
const certIdentity = "ops.tally.internal"

// testPrincipal is a principal of a policy file written by a test.
type testPrincipal struct {
	ID           string   `json:"id"`
	Token        string   `json:"-"`
	CertIdentity string   `json:"cert_identity,omitempty"`
	Prefixes     []string `json:"prefixes"`
	Permissions  []string `json:"permissions"`
}

func (p testPrincipal) MarshalJSON() ([]byte, error) {
	type plain testPrincipal
	out := struct {
		plain
		TokenSHA256 string `json:"token_sha256,omitempty"`
	}{plain: plain(p)}
	if p.Token != "" {
		out.TokenSHA256 = HashToken(p.Token)
	}
	return json.Marshal(out)
}

var testPrincipals = []testPrincipal{
	{ID: "admin", Token: tokAdmin, Prefixes: []string{""}, Permissions: []string{"read", "write", "admin"}},
	{ID: "web-all", Token: tokWebAll, Prefixes: []string{"web-"}, Permissions: []string{"read", "write", "admin"}},
	{ID: "web-rw", Token: tokWebRW, Prefixes: []string{"web-"}, Permissions: []string{"read", "write"}},
	{ID: "web-ro", Token: tokWebRO, Prefixes: []string{"web-"}, Permissions: []string{"read"}},
	{ID: "web-wo", Token: tokWebWO, Prefixes: []string{"web-"}, Permissions: []string{"write"}},
	{ID: "ops", CertIdentity: certIdentity, Prefixes: []string{""}, Permissions: []string{"read", "write", "admin"}},
}

// policyJSON is a policy file listing ps.
func policyJSON(t *testing.T, ps ...testPrincipal) []byte {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"principals": ps}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile replaces path's content atomically, as an operator's tooling should, so that a poll
// never reads half a file.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := replaceFile(path, data); err != nil {
		t.Fatal(err)
	}
}

func replaceFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// env is a tally server with auth, over the real service and sharding core on an emulator.
type env struct {
	counters   *shard.Counters
	auth       *Auth
	tokensFile string
	logs       *testlog.Buffer
	// Over bufconn: a connection without credentials of its own, and its client.
	conn   *grpc.ClientConn
	client tallyv1.CounterServiceClient
	// Over TLS: the loopback address to dial.
	addr string
}

// envOptions select what newEnv sets up.
type envOptions struct {
	// principals are written to the tokens file; nil: no tokens file.
	principals []testPrincipal
	// clientCerts is Options.ClientCerts.
	clientCerts bool
	// tls serves over loopback TCP with this configuration instead of over bufconn.
	tls *tlsFiles
	// wrapLog, if set, wraps the log handler Auth writes to.
	wrapLog func(slog.Handler) slog.Handler
	// tweakTLS changes the TLS configuration ServerTLSConfig made.
	tweakTLS func(*tls.Config)
	// unary runs after the auth interceptor, before the handler.
	unary grpc.UnaryServerInterceptor
	// pollInterval is Options.PollInterval.
	pollInterval time.Duration
}

// tlsFiles are the arguments of ServerTLSConfig.
type tlsFiles struct{ certFile, keyFile, clientCAFile string }

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "auth-test")
	counters, err := shard.New(client, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = counters.Close(context.Background()) })

	e := &env{counters: counters, logs: &testlog.Buffer{}}
	var lh slog.Handler = slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	if opts.wrapLog != nil {
		lh = opts.wrapLog(lh)
	}
	aopts := Options{ClientCerts: opts.clientCerts, Logger: slog.New(lh), PollInterval: opts.pollInterval}
	if opts.principals != nil {
		e.tokensFile = filepath.Join(t.TempDir(), "tokens.json")
		writeFile(t, e.tokensFile, policyJSON(t, opts.principals...))
		aopts.TokensFile = e.tokensFile
	}
	if e.auth, err = New(aopts); err != nil {
		t.Fatalf("New: %v", err)
	}

	unary := []grpc.UnaryServerInterceptor{e.auth.UnaryInterceptor()}
	if opts.unary != nil {
		unary = append(unary, opts.unary)
	}
	sopts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(service.Codec()),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(e.auth.StreamInterceptor()),
	}
	var lis net.Listener
	var dialOpts []grpc.DialOption
	if opts.tls != nil {
		cfg, err := ServerTLSConfig(opts.tls.certFile, opts.tls.keyFile, opts.tls.clientCAFile)
		if err != nil {
			t.Fatalf("ServerTLSConfig: %v", err)
		}
		if opts.tweakTLS != nil {
			opts.tweakTLS(cfg)
		}
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(cfg)))
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	} else {
		bl := bufconn.Listen(1 << 20)
		lis = bl
		dialOpts = []grpc.DialOption{
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
		}
	}
	gs := grpc.NewServer(sopts...)
	tallyv1.RegisterCounterServiceServer(gs, service.New(service.Options{Counters: counters}))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	if opts.tls == nil {
		e.conn = e.dial(t, "passthrough:///bufconn", dialOpts...)
		e.client = tallyv1.NewCounterServiceClient(e.conn)
	} else {
		e.addr = lis.Addr().String()
	}
	return e
}

// dial connects to target; the connection ends with the test.
func (e *env) dial(t *testing.T, target string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

// withToken is ctx sending token in x-tally-token; "" sends none.
func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, TokenHeader, token)
}

// seed creates counter id with 2 shards and value 5, through the core.
func (e *env) seed(t *testing.T, id string) {
	t.Helper()
	ctx := testContext(t)
	if _, err := e.counters.Create(ctx, id, 2); err != nil {
		t.Fatalf("creating %q: %v", id, err)
	}
	if _, err := e.counters.Increment(ctx, id, 5, ""); err != nil {
		t.Fatalf("incrementing %q: %v", id, err)
	}
}

// counterState is what the core reads of a counter: enough to see any change an API call makes.
type counterState struct {
	Exists     bool
	Value      int64
	ShardCount int
	UpdateTime time.Time
}

// state reads the counters ids through the core.
func (e *env) state(t *testing.T, ids ...string) map[string]counterState {
	t.Helper()
	ctx := testContext(t)
	out := map[string]counterState{}
	for _, id := range ids {
		c, err := e.counters.Get(ctx, id)
		switch {
		case errors.Is(err, shard.ErrNotFound):
			out[id] = counterState{}
		case err != nil:
			t.Fatalf("reading %q: %v", id, err)
		default:
			out[id] = counterState{Exists: true, Value: c.Value, ShardCount: c.ShardCount, UpdateTime: c.UpdateTime}
		}
	}
	return out
}

// logLines returns the JSON log lines whose msg is msg.
func (e *env) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
