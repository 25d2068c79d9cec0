package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/client"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// session is what a command needs to do its work: a client and its outputs.
type session struct {
	// api makes the calls of the commands; client is the API itself on the same connection,
	// for the commands that shape their requests themselves (import's keys, bench's load).
	api    *client.Client
	client tallyv1.CounterServiceClient
	out    *printer
	stdin  io.Reader // for input read with "-" as its file name
	stderr io.Writer // for notes that are not results
	// contact tells whether a request of api reached the server.
	contact *contact
	// globals are the global flags, for a command that dials connections
	// of its own (bench) or needs a client of other settings (--no-key);
	// unset for a local command.
	globals globals
}

// newSession returns the session of a command; api is nil for a local
// command, which then has no client.
func newSession(api *client.Client, stdin io.Reader, stdout, stderr io.Writer, json bool) *session {
	s := &session{out: &printer{w: stdout, json: json}, stdin: stdin, stderr: stderr}
	if api != nil {
		s.api = api
		s.client = tallyv1.NewCounterServiceClient(api.Conn())
	}
	return s
}

// connect prepares the client of the server, as dial prepares a connection.
// The client's defaults hold, as for any program using it: writes carry an
// idempotency key, fresh unless the user gave one, and each request is
// retried with the client's backoff where it is safe to, up to --attempts
// times and within --timeout, its retries included.
// seen, if not nil, learns whether any request reached the server.
func connect(ctx context.Context, g globals, seen *contact) (*client.Client, error) {
	creds := newCallCredentials(g)
	if err := creds.checkTransport(g.useTLS()); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	cfg, err := tlsConfig(g)
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithRetry(client.RetryPolicy{MaxAttempts: g.attempts}),
		client.WithTimeout(g.timeout),
		// The CLI's own credentials, whose refusals name its flags.
		client.WithDialOptions(
			grpc.WithPerRPCCredentials(creds),
			grpc.WithUnaryInterceptor(callPolicy{addr: g.addr, timeout: g.timeout, seen: seen}.intercept),
		),
	}
	if cfg != nil {
		opts = append(opts, client.WithTLS(cfg))
	}
	c, err := client.New(ctx, g.addr, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // interrupted
		}
		return nil, usageErrorf("--addr %q: %v", g.addr, err)
	}
	return c, nil
}

// singleAttempt returns a client of the same server that sends each request
// once, for a write the user wants at-least-once (--no-key); the caller
// closes it. Like every client it connects on its first call, so the
// session's own client, left unused, costs nothing.
func (s *session) singleAttempt(ctx context.Context) (*client.Client, error) {
	g := s.globals
	g.attempts = 1
	return connect(ctx, g, s.contact)
}

// dial prepares a connection to the server, with TLS if the flags ask for
// it and the tokens attached to every call. No connection is made until the
// first request.
func dial(g globals) (*grpc.ClientConn, error) {
	creds := newCallCredentials(g)
	// The credentials check every call; checking here too fails before
	// anything is sent, with the exit code of a usage error.
	if err := creds.checkTransport(g.useTLS()); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	transport, err := transportCredentials(g)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(g.addr,
		grpc.WithTransportCredentials(transport),
		grpc.WithPerRPCCredentials(creds),
		grpc.WithUnaryInterceptor(callPolicy{addr: g.addr, timeout: g.timeout}.intercept),
	)
	if err != nil {
		return nil, usageErrorf("--addr %q: %v", g.addr, err)
	}
	return conn, nil
}

// callPolicy applies the --timeout to each attempt of a request and sorts
// failures into "never reached the server" and "the server answered". (The
// client's calls have the --timeout on their context already, covering their
// retries; import and bench call the API directly and rely on this one.)
type callPolicy struct {
	addr    string
	timeout time.Duration
	seen    *contact // nil: not recorded
}

// contact records whether any request reached the server: a write none of
// whose attempts did certainly applied nothing.
type contact struct {
	reached atomic.Bool
}

// anyReached reports whether a request reached the server; nil, as for a
// session without one, means it may have.
func (c *contact) anyReached() bool {
	return c == nil || c.reached.Load()
}

func (p callPolicy) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	callCtx := ctx
	if p.timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	// The peer is recorded only once a stream was opened on a live
	// connection; without one, the request never left this process.
	var reached peer.Peer
	err := invoker(callCtx, method, req, reply, cc, append(opts, grpc.Peer(&reached))...)
	if reached.Addr != nil && p.seen != nil {
		p.seen.reached.Store(true)
	}
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", method, ctx.Err()) // interrupted
	}
	// A deadline, the attempt's or the whole request's, that passed before
	// any connection was made means the server could not be reached.
	if reached.Addr == nil {
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
			return &unreachableError{addr: p.addr, err: err}
		}
	}
	return err
}
