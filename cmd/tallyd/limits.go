package main

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Server-side keepalive: a connection idle for keepaliveTime is pinged, and closed if the ping is
// not answered within keepaliveTimeout, so that the calls and streams (a health Watch) of a client
// that vanished without closing its connection are released. Connections are also closed, with a
// GOAWAY that lets their calls finish, after maxConnectionAge (gRPC adds ±10% jitter), so that
// clients behind a connection-level load balancer spread over replicas added since they
// connected.
const (
	// maxHeaderListBytes bounds a call's metadata (gRPC's default is 16 MiB): a token and a
	// trace context need a few hundred bytes.
	maxHeaderListBytes = 64 << 10

	keepaliveTime    = time.Minute
	keepaliveTimeout = 20 * time.Second
	maxConnectionAge = 30 * time.Minute
)

// limitOptions are the gRPC server options of the limits in cfg: the largest request message
// and keepalive enforcement. The call limits are interceptors (limiter, defaultDeadline).
func limitOptions(cfg *Config) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		// gRPC reads a request's whole message before any interceptor, the limiter's included,
		// runs, so the call limit alone does not bound what one connection can make tallyd
		// buffer. Twice the call limit leaves room for the calls the limiter must see to shed
		// (a client over one connection gets RESOURCE_EXHAUSTED, not a queue of its own),
		// and bounds a connection's buffered requests to 2 x calls x --max-message-bytes.
		grpc.MaxConcurrentStreams(uint32(min(2*cfg.MaxConcurrentCalls, math.MaxUint32))),
		grpc.MaxHeaderListSize(maxHeaderListBytes),
		// A client pinging more often than MinTime is sent GOAWAY (too_many_pings) and
		// disconnected. Pings on a connection without calls are allowed: clients keep idle
		// connections warm that way.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: cfg.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:             keepaliveTime,
			Timeout:          keepaliveTimeout,
			MaxConnectionAge: maxConnectionAge,
		}),
	}
}

// unlimited reports whether a method is exempt from the call limits: health checks must answer
// while tallyd is saturated (that is when load balancers ask), a health Watch and a reflection
// session are long-lived streams that a default deadline would cut, and neither touches storage.
func unlimited(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// longLived reports whether a method is a stream that lasts as long as its client wants it to: a
// WatchCounter. A default deadline would cut it, and a slot of the call limit held for hours
// would starve the calls that limit is for, so watches are bounded by a limit of their own
// (--max-watches, watchLimiter) instead.
func longLived(fullMethod string) bool {
	return fullMethod == tallyv1.CounterService_WatchCounter_FullMethodName
}

// watchLimiter refuses watches beyond its max open at once with RESOURCE_EXHAUSTED, as limiter
// does other calls, and counts each refusal through its onShed.
type watchLimiter struct{ *limiter }

func (w watchLimiter) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !longLived(info.FullMethod) {
		return handler(srv, ss)
	}
	if !w.acquire() {
		if w.onShed != nil {
			w.onShed(ss.Context())
		}
		return status.Errorf(codes.ResourceExhausted,
			"tallyd is serving its limit of %d watches at once: retry with backoff, or at another replica", w.max)
	}
	defer w.release()
	return handler(srv, ss)
}

// limiter refuses calls beyond max in progress at once with RESOURCE_EXHAUSTED, at once rather
// than queueing them: under overload a queue only grows memory and latency, while a refused
// client can back off or go to another replica. A refused call never reaches its handler, so
// nothing of it is applied.
type limiter struct {
	max      int64
	inFlight atomic.Int64
	shed     atomic.Int64
	onShed   func(context.Context) // records a refusal in the metrics; may be nil
	// watches is the limiter of WatchCounter streams that newGRPCServer made beside this one
	// (--max-watches), so that the shutdown line can report its refusals too; nil before.
	watches *limiter
}

func newLimiter(max int, onShed func(context.Context)) *limiter {
	return &limiter{max: int64(max), onShed: onShed}
}

// Shed is how many calls the limiter has refused (tally.calls.shed counts them through onShed).
func (l *limiter) Shed() int64 { return l.shed.Load() }

// RefusedWatches is how many watches the limiter of watches beside this one has refused.
func (l *limiter) RefusedWatches() int64 {
	if l.watches == nil {
		return 0
	}
	return l.watches.Shed()
}

// InFlight is how many limited calls are in progress.
func (l *limiter) InFlight() int64 { return l.inFlight.Load() }

// acquire takes a slot if one is free, without waiting.
func (l *limiter) acquire() bool {
	if l.inFlight.Add(1) > l.max {
		l.inFlight.Add(-1)
		l.shed.Add(1)
		return false
	}
	return true
}

func (l *limiter) release() { l.inFlight.Add(-1) }

func (l *limiter) refusal(ctx context.Context) error {
	if l.onShed != nil {
		l.onShed(ctx)
	}
	return status.Errorf(codes.ResourceExhausted,
		"tallyd is serving its limit of %d calls at once: this call was refused and nothing was applied; retry with backoff, or at another replica", l.max)
}

func (l *limiter) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if unlimited(info.FullMethod) {
		return handler(ctx, req)
	}
	if !l.acquire() {
		return nil, l.refusal(ctx)
	}
	defer l.release()
	return handler(ctx, req)
}

func (l *limiter) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if unlimited(info.FullMethod) || longLived(info.FullMethod) {
		return handler(srv, ss)
	}
	if !l.acquire() {
		return l.refusal(ss.Context())
	}
	defer l.release()
	return handler(srv, ss)
}

// defaultDeadline gives calls that arrive without a deadline one of d, so that a client that
// set none cannot hold a call, and what it holds in the store, forever. A call's own deadline
// stands, even a longer one.
type defaultDeadline time.Duration

func (d defaultDeadline) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if _, ok := ctx.Deadline(); ok || unlimited(info.FullMethod) {
		return handler(ctx, req)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
	defer cancel()
	return handler(ctx, req)
}

func (d defaultDeadline) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if _, ok := ss.Context().Deadline(); ok || unlimited(info.FullMethod) || longLived(info.FullMethod) {
		return handler(srv, ss)
	}
	ctx, cancel := context.WithTimeout(ss.Context(), time.Duration(d))
	defer cancel()
	return handler(srv, &streamWithContext{ServerStream: ss, ctx: ctx})
}

// streamWithContext is a server stream whose handler sees ctx.
type streamWithContext struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *streamWithContext) Context() context.Context { return s.ctx }
