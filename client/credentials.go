package client

import (
	"context"
	"net"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// The headers tallyd reads tokens from (internal/auth names them; a test keeps them equal, so
// that the client does not link the server's code). The tally token has a header of its own so
// that authorization can carry a Cloud Run ID token at the same time.
const (
	tokenHeader         = "x-tally-token"
	authorizationHeader = "authorization"
)

// tokenCredentials attach the tokens to every call, in the headers tallyd reads.
type tokenCredentials struct {
	token, idToken string
	// plaintextOK allows plaintext: the target is this machine, or WithInsecureTokens was given.
	plaintextOK bool
}

var _ credentials.PerRPCCredentials = (*tokenCredentials)(nil)

// GetRequestMetadata refuses to put the tokens on a plaintext connection to another machine;
// gRPC describes the connection in ctx.
func (c *tokenCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	info, _ := credentials.RequestInfoFromContext(ctx)
	encrypted := info.AuthInfo != nil && credentials.CheckSecurityLevel(info.AuthInfo, credentials.PrivacyAndIntegrity) == nil
	if !encrypted && !c.plaintextOK {
		// UNAUTHENTICATED is one of the codes gRPC lets credentials return.
		return nil, status.Error(codes.Unauthenticated, "refusing to send a token over plaintext to another machine: use TLS, or WithInsecureTokens if the network is trusted")
	}
	md := make(map[string]string, 2)
	if c.token != "" {
		md[tokenHeader] = c.token
	}
	if c.idToken != "" {
		md[authorizationHeader] = "Bearer " + c.idToken
	}
	return md, nil
}

// RequireTransportSecurity is false, or gRPC would refuse even a plaintext connection to this
// machine; GetRequestMetadata decides.
func (*tokenCredentials) RequireTransportSecurity() bool { return false }

// isLoopbackTarget reports whether a gRPC target names this machine: "localhost" or a loopback
// address, with or without a scheme such as dns:///. Another name might resolve elsewhere.
func isLoopbackTarget(target string) bool {
	if i := strings.Index(target, ":///"); i >= 0 {
		target = target[i+len(":///"):]
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
