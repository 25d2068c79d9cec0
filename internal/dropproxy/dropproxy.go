// Package dropproxy is a gRPC proxy for tests that loses answers after the server applied the
// calls they answer: it forwards every call to a backend and, as a test's fault plan says,
// discards the backend's answer and answers UNAVAILABLE, or breaks the client's connection, so
// that the client cannot tell whether its call took effect. It also refuses calls before they
// reach the backend, and counts the calls it saw, forwarded and dropped, so a test can check that
// a client's retries really happened, or really stopped.
//
// The proxy forwards any method, unary or streaming, as raw bytes: it needs no generated code
// and does not parse the messages. Metadata (tokens included) goes through both ways.
package dropproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Action is what the proxy does to one call.
type Action int

const (
	// Forward passes the call and its answers through untouched.
	Forward Action = iota
	// DropAnswer forwards the call and, once the backend answered it successfully (applied it),
	// discards the answer and ends the call with UNAVAILABLE, as a server would whose
	// connection to storage failed after the commit.
	DropAnswer
	// BreakConnection forwards the call and, once the backend answered it successfully, discards
	// the answer and closes the client's TCP connection: the client sees a transport failure.
	BreakConnection
	// Refuse ends the call with Fault.Code without forwarding it: nothing is applied.
	Refuse
)

func (a Action) String() string {
	switch a {
	case Forward:
		return "forward"
	case DropAnswer:
		return "drop-answer"
	case BreakConnection:
		return "break-connection"
	case Refuse:
		return "refuse"
	}
	return "action(?)"
}

// Fault is the plan for one call.
type Fault struct {
	Action Action
	// Code is the status Refuse answers; UNAVAILABLE when unset.
	Code codes.Code
	// Messages is how many of the backend's answers DropAnswer and BreakConnection let through
	// before they strike, for a streaming call; 0 for a unary call.
	Messages int
	// Struck, if set, runs once DropAnswer or BreakConnection discarded an answer, before the
	// client hears of it, so that a test can act while the client's call is still unanswered.
	Struck func()
}

// Call describes a call to the plan.
type Call struct {
	Method string // the full method name, /package.Service/Method
	N      int    // 1 for the first call of Method the proxy saw, 2 for the next, ...
}

// Plan chooses the fault of each call. It runs on the call's goroutine before the call is
// forwarded, so it may also block or cancel a test's context to order events.
type Plan func(Call) Fault

// Every applies f to every n-th call of method (n, 2n, ...) and forwards the rest.
func Every(method string, n int, f Fault) Plan {
	return func(c Call) Fault {
		if c.Method == method && n > 0 && c.N%n == 0 {
			return f
		}
		return Fault{}
	}
}

// Proxy forwards calls from its listener to a backend.
type Proxy struct {
	plan    Plan
	backend *grpc.ClientConn
	server  *grpc.Server
	lis     net.Listener

	mu        sync.Mutex
	conns     map[string]net.Conn // client connections by remote address
	seen      map[string]int      // calls received, by method
	forwarded map[string]int      // calls sent to the backend, by method
	dropped   map[string]int      // calls whose successful answer was lost, by method
}

// Start runs a proxy to the gRPC server at backend on a loopback port until the test ends. A nil
// plan forwards everything.
func Start(tb testing.TB, backend string, plan Plan) *Proxy {
	tb.Helper()
	if plan == nil {
		plan = func(Call) Fault { return Fault{} }
	}
	conn, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatalf("dropproxy: dialing %s: %v", backend, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("dropproxy: listening: %v", err)
	}
	p := &Proxy{
		plan:      plan,
		backend:   conn,
		conns:     map[string]net.Conn{},
		seen:      map[string]int{},
		forwarded: map[string]int{},
		dropped:   map[string]int{},
	}
	p.lis = &trackingListener{Listener: lis, p: p}
	p.server = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.handle))
	served := make(chan error, 1)
	go func() { served <- p.server.Serve(p.lis) }()
	tb.Cleanup(func() {
		p.server.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, net.ErrClosed) {
			tb.Errorf("dropproxy: serve: %v", err)
		}
		_ = conn.Close()
	})
	return p
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Seen is the number of calls of method that reached the proxy.
func (p *Proxy) Seen(method string) int { return p.count(p.seen, method) }

// Forwarded is the number of calls of method the proxy sent on to the backend.
func (p *Proxy) Forwarded(method string) int { return p.count(p.forwarded, method) }

// Dropped is the number of calls of method the backend answered successfully whose answer the
// proxy did not deliver.
func (p *Proxy) Dropped(method string) int { return p.count(p.dropped, method) }

func (p *Proxy) count(m map[string]int, method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return m[method]
}

func (p *Proxy) bump(m map[string]int, method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m[method]++
	return m[method]
}

// handle forwards one call of any method.
func (p *Proxy) handle(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "dropproxy: no method name")
	}
	fault := p.plan(Call{Method: method, N: p.bump(p.seen, method)})
	if fault.Action == Refuse {
		code := fault.Code
		if code == codes.OK {
			code = codes.Unavailable
		}
		return status.Errorf(code, "dropproxy: refused %s", method)
	}

	// A call the proxy forwarded runs to its end at the backend even if the client goes away
	// meanwhile, as a request already delivered does: the answer is what gets lost. A stream is
	// canceled once the client left and the backend answered at least once.
	ctx := metadata.NewOutgoingContext(context.WithoutCancel(ss.Context()), forwardable(ss.Context()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answered := make(chan struct{})
	var answeredOnce sync.Once
	markAnswered := func() { answeredOnce.Do(func() { close(answered) }) }
	defer markAnswered()
	stop := context.AfterFunc(ss.Context(), func() {
		<-answered
		cancel()
	})
	defer stop()
	p.bump(p.forwarded, method)
	cs, err := p.backend.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	go forwardRequests(ss, cs)

	sent := 0
	for {
		var f frame
		err := cs.RecvMsg(&f)
		markAnswered()
		if errors.Is(err, io.EOF) {
			ss.SetTrailer(cs.Trailer())
			return nil
		}
		if err != nil {
			return err
		}
		if fault.Action != Forward && sent >= fault.Messages {
			p.bump(p.dropped, method)
			if fault.Struck != nil {
				fault.Struck()
			}
			if fault.Action == BreakConnection {
				p.breakConnection(ss.Context())
			}
			return status.Errorf(codes.Unavailable, "dropproxy: lost the answer to %s", method)
		}
		if sent == 0 {
			if md, err := cs.Header(); err == nil {
				if err := ss.SendHeader(md); err != nil {
					return err
				}
			}
		}
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
		sent++
	}
}

// forwardRequests copies the client's messages to the backend until the client is done sending.
func forwardRequests(ss grpc.ServerStream, cs grpc.ClientStream) {
	for {
		var f frame
		if err := ss.RecvMsg(&f); err != nil {
			if errors.Is(err, io.EOF) {
				_ = cs.CloseSend()
			}
			return
		}
		if err := cs.SendMsg(&f); err != nil {
			return
		}
	}
}

// forwardable is the call's incoming metadata without the headers gRPC sets itself.
func forwardable(ctx context.Context) metadata.MD {
	in, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for k, v := range in {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "user-agent" || k == "te" {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

// breakConnection closes the TCP connection the call came in on.
func (p *Proxy) breakConnection(ctx context.Context) {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return
	}
	p.mu.Lock()
	c := p.conns[pr.Addr.String()]
	delete(p.conns, pr.Addr.String())
	p.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// trackingListener remembers each accepted connection by its remote address, so that a call
// can find and break its own.
type trackingListener struct {
	net.Listener
	p *Proxy
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.p.mu.Lock()
	l.p.conns[c.RemoteAddr().String()] = c
	l.p.mu.Unlock()
	return c, nil
}
