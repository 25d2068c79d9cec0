package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Client calls one Tally server. It is safe for concurrent use; one Client per server is
// enough for a whole program, since calls share its connection.
type Client struct {
	conn    *grpc.ClientConn
	rpc     tallyv1.CounterServiceClient
	timeout time.Duration
	retry   RetryPolicy
	jitter  func() float64 // a random number in [0, 1) for the backoff
}

// New returns a client of the server at target, a gRPC target such as "localhost:8080" or
// "dns:///tally.example.com:443". No connection is made until the first call, so New fails only
// for bad options; ctx is checked but not kept.
func New(ctx context.Context, target string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := settings{retry: DefaultRetryPolicy}
	for _, o := range opts {
		o(&s)
	}
	transport, err := s.transportCredentials()
	if err != nil {
		return nil, err
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if s.token != "" || s.idToken != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(&tokenCredentials{
			token:       s.token,
			idToken:     s.idToken,
			plaintextOK: s.insecureTokens || isLoopbackTarget(target),
		}))
	}
	conn, err := grpc.NewClient(target, append(dial, s.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("tally client for %q: %w", target, err)
	}
	return &Client{
		conn:    conn,
		rpc:     tallyv1.NewCounterServiceClient(conn),
		timeout: s.timeout,
		retry:   s.retry,
		jitter:  rand.Float64,
	}, nil
}

// Close closes the connection; calls in progress fail.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the client's gRPC connection, for calls of the API this package does not wrap
// (tallyv1.NewCounterServiceClient(c.Conn())). Such calls get neither retries nor keys.
func (c *Client) Conn() grpc.ClientConnInterface { return c.conn }

func (s settings) transportCredentials() (credentials.TransportCredentials, error) {
	if s.tls == nil && s.caFile == "" {
		return insecure.NewCredentials(), nil
	}
	cfg := s.tls
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("tally client: CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tally client: CA file %s holds no PEM certificate", s.caFile)
		}
	}
	return credentials.NewTLS(cfg), nil
}
