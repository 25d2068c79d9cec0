package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/auth"
)

// Metadata the tokens travel in, named by the server's auth package. The
// tally token has a header of its own so that authorization can carry a
// Cloud Run IAM ID token at the same time; tallyd prefers x-tally-token when
// both are present.
const (
	tokenHeader   = auth.TokenHeader
	idTokenHeader = auth.AuthorizationHeader
)

// checkToken refuses a token that gRPC metadata cannot carry, before it is
// sent: gRPC would fail the call with a message about header fields. The
// token itself is not shown, since it is a secret.
func checkToken(flagName, env, token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return usageErrorf("%s (or $%s) has a space, control or non-ASCII character at byte %d, which a token sent in gRPC metadata cannot contain", flagName, env, i)
		}
	}
	return nil
}

// callCredentials attach the tokens to every call. They refuse to send them
// over a plaintext connection to another machine: anyone on the network
// path could read them and call the server as their owner.
type callCredentials struct {
	token, idToken string
	addr           string // --addr, for the error message
	loopback       bool   // addr is this machine, where plaintext is not seen by the network
	insecure       bool   // --insecure: the user accepts the risk
}

var _ credentials.PerRPCCredentials = callCredentials{}

func newCallCredentials(g globals) callCredentials {
	host, _, _ := net.SplitHostPort(g.addr)
	return callCredentials{token: g.token, idToken: g.idToken, addr: g.addr, loopback: isLoopback(host), insecure: g.insecure}
}

func (c callCredentials) empty() bool { return c.token == "" && c.idToken == "" }

// checkTransport returns why the tokens may not be sent over a connection
// with or without TLS, or nil if they may.
func (c callCredentials) checkTransport(encrypted bool) error {
	if c.empty() || encrypted || c.loopback || c.insecure {
		return nil
	}
	var which []string
	if c.token != "" {
		which = append(which, "--token")
	}
	if c.idToken != "" {
		which = append(which, "--id-token")
	}
	return fmt.Errorf("refusing to send %s over plaintext to %s: anyone on the network path could read the token and call the server with it; "+
		"add --tls (or --ca-cert FILE), or --insecure if the network is trusted", strings.Join(which, " and "), c.addr)
}

// GetRequestMetadata checks the connection the call is about to use, which
// gRPC describes in the context, and returns the token headers.
func (c callCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if c.empty() {
		return nil, nil
	}
	info, _ := credentials.RequestInfoFromContext(ctx)
	encrypted := info.AuthInfo != nil && credentials.CheckSecurityLevel(info.AuthInfo, credentials.PrivacyAndIntegrity) == nil
	if err := c.checkTransport(encrypted); err != nil {
		// UNAUTHENTICATED is one of the codes gRPC lets credentials return.
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	md := make(map[string]string, 2)
	if c.token != "" {
		md[tokenHeader] = c.token
	}
	if c.idToken != "" {
		md[idTokenHeader] = "Bearer " + c.idToken
	}
	return md, nil
}

// RequireTransportSecurity is false: gRPC would then refuse every plaintext
// connection, including the common one to a server on this machine.
// GetRequestMetadata makes the finer decision.
func (callCredentials) RequireTransportSecurity() bool { return false }

// isLoopback reports whether host names this machine through the loopback
// interface. Only "localhost" and loopback addresses count: another name
// might resolve elsewhere.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// transportCredentials builds the connection's security from the TLS flags.
func transportCredentials(g globals) (credentials.TransportCredentials, error) {
	cfg, err := tlsConfig(g)
	if err != nil || cfg == nil {
		return insecure.NewCredentials(), err
	}
	return credentials.NewTLS(cfg), nil
}

// tlsConfig is the TLS configuration the flags ask for, or nil without TLS.
func tlsConfig(g globals) (*tls.Config, error) {
	if !g.useTLS() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: g.serverName}
	if g.caCert != "" {
		pem, err := os.ReadFile(g.caCert)
		if err != nil {
			return nil, usageErrorf("--ca-cert: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("--ca-cert %s: no PEM certificate in the file", g.caCert)
		}
	}
	if g.clientCert != "" {
		cert, err := tls.LoadX509KeyPair(g.clientCert, g.clientKey)
		if err != nil {
			return nil, usageErrorf("--client-cert %s, --client-key %s: %v", g.clientCert, g.clientKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
