package auth

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testpki"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// tlsClient connects to e over TLS with cfg.
func (e *env) tlsClient(t *testing.T, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	return e.dial(t, e.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, true)
	other := testpki.NewCA(t, "another CA")
	e := newEnv(t, envOptions{principals: testPrincipals, clientCerts: true, tls: &setup.files})
	ops := setup.ca.Issue(t, testpki.Leaf{CN: certIdentity}).TLS(t)
	opsBySAN := setup.ca.Issue(t, testpki.Leaf{CN: "client-17", DNS: []string{"x.example", certIdentity}}).TLS(t)
	stranger := setup.ca.Issue(t, testpki.Leaf{CN: "stranger.tally.internal"}).TLS(t)
	forged := other.Issue(t, testpki.Leaf{CN: certIdentity}).TLS(t)

	tests := []struct {
		name  string
		cert  *tls.Certificate
		token string
		want  []codes.Code // any of these; a refused handshake is UNAVAILABLE
	}{
		{"certificate of the CA with a matching identity", &ops, "", []codes.Code{codes.OK}},
		{"matching identity in a DNS SAN", &opsBySAN, "", []codes.Code{codes.OK}},
		{"certificate of another CA", &forged, "", []codes.Code{codes.Unavailable, codes.Unauthenticated}},
		{"certificate of another CA with a valid token", &forged, tokAdmin, []codes.Code{codes.Unavailable, codes.Unauthenticated}},
		{"certificate matching no principal", &stranger, "", []codes.Code{codes.Unauthenticated}},
		{"valid certificate, unknown token", &ops, tokUnknown, []codes.Code{codes.Unauthenticated}},
		{"valid certificate, token of lesser rights", &ops, tokWebRO, []codes.Code{codes.PermissionDenied}},
		{"no certificate, valid token", nil, tokAdmin, []codes.Code{codes.OK}},
		{"no certificate, no token", nil, "", []codes.Code{codes.Unauthenticated}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var certs []tls.Certificate
			if tt.cert != nil {
				certs = append(certs, *tt.cert)
			}
			conn := e.tlsClient(t, setup.ca.ClientConfig(certs...))
			id := "web-tls-" + string(rune('a'+i))
			_, err := tallyv1.NewCounterServiceClient(conn).CreateCounter(withToken(testContext(t), tt.token),
				&tallyv1.CreateCounterRequest{CounterId: id})
			code := status.Code(err)
			if !containsCode(tt.want, code) {
				t.Fatalf("got %v, want one of %v", err, tt.want)
			}
			if exists := e.state(t, id)[id].Exists; exists != (code == codes.OK) {
				t.Errorf("counter %q exists: %v, after %v", id, exists, code)
			}
			// Health stays open to every client that completes the handshake.
			if code != codes.Unavailable {
				if _, err := healthpb.NewHealthClient(conn).Check(testContext(t), &healthpb.HealthCheckRequest{}); err != nil {
					t.Errorf("health check: %v", err)
				}
			}
		})
	}
}

func containsCode(codes []codes.Code, c codes.Code) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

// TestClientCertsWithoutPolicy: with a client CA and no tokens file, a verified certificate is
// a principal with every permission, named by its identity; tokens are refused.
func TestClientCertsWithoutPolicy(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, true)
	var seen atomic.Value // the principal id the handler ran as
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if p, ok := PrincipalFrom(ctx); ok {
			seen.Store(p.ID)
		}
		return handler(ctx, req)
	}
	e := newEnv(t, envOptions{clientCerts: true, tls: &setup.files, unary: record})
	cert := setup.ca.Issue(t, testpki.Leaf{CN: "", URIs: []string{"spiffe://tally/ops"}}).TLS(t)

	c := tallyv1.NewCounterServiceClient(e.tlsClient(t, setup.ca.ClientConfig(cert)))
	if _, err := c.DeleteCounter(testContext(t), &tallyv1.DeleteCounterRequest{Name: name("any")}); status.Code(err) != codes.NotFound {
		t.Fatalf("DeleteCounter with a verified certificate: %v, want NotFound (allowed, no such counter)", err)
	}
	if seen.Load() != "spiffe://tally/ops" {
		t.Errorf("the principal is %q, want the certificate's URI", seen.Load())
	}
	anon := tallyv1.NewCounterServiceClient(e.tlsClient(t, setup.ca.ClientConfig()))
	for _, token := range []string{"", tokAdmin} {
		if _, err := anon.Increment(withToken(testContext(t), token), &tallyv1.IncrementRequest{Name: name("any"), Delta: 1}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("token %q without a certificate: %v, want Unauthenticated", token, err)
		}
	}
}

// TestCertificateNeedsVerification: a certificate the server received but did not verify
// proves nothing, even if its name matches a principal.
func TestCertificateNeedsVerification(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, false)
	e := newEnv(t, envOptions{principals: testPrincipals, tls: &setup.files, tweakTLS: func(cfg *tls.Config) {
		cfg.ClientAuth = tls.RequireAnyClientCert // asks for a certificate, verifies nothing
	}})
	cert := setup.ca.Issue(t, testpki.Leaf{CN: certIdentity}).TLS(t)
	c := tallyv1.NewCounterServiceClient(e.tlsClient(t, setup.ca.ClientConfig(cert)))
	if _, err := c.Increment(testContext(t), &tallyv1.IncrementRequest{Name: name("web-x"), Delta: 1}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("got %v, want Unauthenticated", err)
	}
}

func TestServerTLSConfig(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, true)
	cfg, err := ServerTLSConfig(setup.files.certFile, setup.files.keyFile, setup.files.clientCAFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.VerifyClientCertIfGiven || cfg.ClientCAs == nil {
		t.Errorf("MinVersion %x, ClientAuth %v, ClientCAs %v", cfg.MinVersion, cfg.ClientAuth, cfg.ClientCAs)
	}
	noCA, err := ServerTLSConfig(setup.files.certFile, setup.files.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	if noCA.ClientAuth != tls.NoClientCert || noCA.ClientCAs != nil {
		t.Errorf("without a client CA: ClientAuth %v, ClientCAs %v", noCA.ClientAuth, noCA.ClientCAs)
	}

	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	writeFile(t, notPEM, []byte("not a certificate"))
	for _, tt := range []struct {
		name                string
		cert, key, clientCA string
		want                string
	}{
		{"no key", setup.files.certFile, "", "", "both a certificate file and a key file"},
		{"missing certificate", filepath.Join(dir, "missing.pem"), setup.files.keyFile, "", "loading the TLS certificate"},
		{"key of another certificate", setup.files.certFile, writeTemp(t, dir, newTLSSetup(t, false).files.keyFile), "", "loading the TLS certificate"},
		{"missing client CA", setup.files.certFile, setup.files.keyFile, filepath.Join(dir, "missing-ca.pem"), "reading the client CA bundle"},
		{"client CA without certificates", setup.files.certFile, setup.files.keyFile, notPEM, "holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ServerTLSConfig(tt.cert, tt.key, tt.clientCA); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ServerTLSConfig: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// writeTemp copies the file at src into dir and returns the copy's path.
func writeTemp(t *testing.T, dir, src string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(src)+".copy")
	writeFile(t, dst, readFile(t, src))
	return dst
}

// TestTLS serves over TLS 1.2 and later only, and serves a renewed certificate without a restart.
func TestTLS(t *testing.T) {
	t.Parallel()
	setup := newTLSSetup(t, true)
	e := newEnv(t, envOptions{principals: testPrincipals, tls: &setup.files})
	handshake := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		conn, err := tls.Dial("tcp", e.addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return &st, nil
	}
	old := setup.ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := handshake(old); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
	first, err := handshake(setup.ca.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}

	renewedPair := setup.ca.Issue(t, testpki.Leaf{Server: true, CN: "tallyd renewed"})
	writeFile(t, setup.files.keyFile, renewedPair.KeyPEM)
	writeFile(t, setup.files.certFile, renewedPair.CertPEM)
	renewed, err := handshake(setup.ca.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := renewed.PeerCertificates[0].Subject.CommonName; got != "tallyd renewed" {
		t.Errorf("after renewal the server presents %q (first %q)", got, first.PeerCertificates[0].Subject.CommonName)
	}

	// A pair that fails to load leaves the renewed one in use.
	writeFile(t, setup.files.certFile, []byte("garbage"))
	if st, err := handshake(setup.ca.ClientConfig()); err != nil || st.PeerCertificates[0].Subject.CommonName != "tallyd renewed" {
		t.Errorf("with a broken certificate file: %v, %v; want the renewed certificate", st, err)
	}
	// Health is open over TLS without credentials.
	if _, err := healthpb.NewHealthClient(e.tlsClient(t, setup.ca.ClientConfig())).Check(testContext(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check: %v", err)
	}
}
