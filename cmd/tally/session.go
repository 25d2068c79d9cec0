package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// session is what a command needs to do its work: a client and its outputs.
type session struct {
	client tallyv1.CounterServiceClient
	out    *printer
	stderr io.Writer // for notes that are not results
}

func newSession(conn grpc.ClientConnInterface, stdout, stderr io.Writer, json bool) *session {
	return &session{
		client: tallyv1.NewCounterServiceClient(conn),
		out:    &printer{w: stdout, json: json},
		stderr: stderr,
	}
}

// dial prepares a plaintext connection to the server. No connection is made
// until the first request.
func dial(g globals) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(g.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
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
