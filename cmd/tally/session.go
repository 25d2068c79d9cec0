package main

import (
	"context"
	"fmt"
	"io"
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
	// globals are the global flags, for a command that dials connections
	// of its own (bench); unset for a local command.
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
// Each request is sent once: a failure is reported, not retried, and a
// write carries the --key given or none, as the user asked.
func connect(ctx context.Context, g globals) (*client.Client, error) {
	creds := newCallCredentials(g)
	if err := creds.checkTransport(g.useTLS()); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	cfg, err := tlsConfig(g)
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithRetry(client.RetryPolicy{MaxAttempts: 1}),
		// The CLI's own credentials, whose refusals name its flags.
		client.WithDialOptions(
			grpc.WithPerRPCCredentials(creds),
			grpc.WithUnaryInterceptor(callPolicy{addr: g.addr, timeout: g.timeout}.intercept),
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

// callPolicy applies the --timeout to each request and sorts failures into
// "never reached the server" and "the server answered".
type callPolicy struct {
	addr    string
	timeout time.Duration
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
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
	if reached.Addr == nil {
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
			return &unreachableError{addr: p.addr, err: err}
		}
	}
	return err
}
