package telemetry

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// rpcServerHandler is ServerStatsHandler. It measures every call's duration itself, in
// rpc.server.call.duration with the attributes of OpenTelemetry's RPC conventions, and leaves
// spans to otelgrpc's handler, which it calls only while tracing is on.
//
// Why not otelgrpc's metrics: they build a new attribute set for every call, which was 7% of the
// server's CPU under the hot-counter load (docs/benchmarks.md, "Cost of telemetry"). The sets
// here are made once per method and status code.
type rpcServerHandler struct {
	spans      stats.Handler // nil while tracing is off
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram
	methods    methodSets
}

var _ stats.Handler = (*rpcServerHandler)(nil)

// rpcServerDurationBuckets are otelgrpc's boundaries, so the histogram reads the same as before.
var rpcServerDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func newRPCServerHandler(meter metric.Meter, propagator propagation.TextMapPropagator, spans stats.Handler) (*rpcServerHandler, error) {
	d, err := meter.Float64Histogram("rpc.server.call.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Measures the duration of inbound remote procedure calls."),
		metric.WithExplicitBucketBoundaries(rpcServerDurationBuckets...))
	if err != nil {
		return nil, err
	}
	return &rpcServerHandler{spans: spans, propagator: propagator, duration: d}, nil
}

// rpcCallKey holds a measured call's precomputed attribute sets in its context.
type rpcCallKey struct{}

func (h *rpcServerHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if !notHealthCheck(info) {
		return ctx
	}
	if h.spans != nil {
		ctx = h.spans.TagRPC(ctx, info)
	} else if md, ok := metadata.FromIncomingContext(ctx); ok {
		// No spans, but the caller's trace context still reaches this server's log lines.
		ctx = h.propagator.Extract(ctx, metadataCarrier(md))
	}
	return context.WithValue(ctx, rpcCallKey{}, h.methods.get(info.FullMethodName))
}

func (h *rpcServerHandler) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	sets, ok := ctx.Value(rpcCallKey{}).(*codeSets)
	if !ok {
		return // a health check
	}
	if h.spans != nil {
		h.spans.HandleRPC(ctx, rs)
	}
	end, ok := rs.(*stats.End)
	if !ok {
		return
	}
	code := codes.OK
	if end.Error != nil {
		code = status.Code(end.Error)
	}
	h.duration.Record(ctx, end.EndTime.Sub(end.BeginTime).Seconds(), sets.forCode(code)...)
}

func (h *rpcServerHandler) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	if h.spans != nil {
		return h.spans.TagConn(ctx, info)
	}
	return ctx
}

func (h *rpcServerHandler) HandleConn(ctx context.Context, cs stats.ConnStats) {
	if h.spans != nil {
		h.spans.HandleConn(ctx, cs)
	}
}

// maxMeasuredMethods bounds the methods that get series of their own. Clients choose the method
// names they send, and a server answers UNIMPLEMENTED to any name it lacks, so without a bound a
// client could grow the server's memory and its metrics without end; tallyd serves far fewer.
const maxMeasuredMethods = 64

// otherMethod is the rpc.method of calls beyond maxMeasuredMethods, as the conventions name
// methods a server does not know.
const otherMethod = "_OTHER"

// methodSets holds the attribute sets of each method seen, made on its first call.
type methodSets struct {
	mu    sync.RWMutex
	byKey map[string]*codeSets
	other *codeSets
}

func (m *methodSets) get(fullMethod string) *codeSets {
	m.mu.RLock()
	s, ok := m.byKey[fullMethod]
	m.mu.RUnlock()
	if ok {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.byKey[fullMethod]; ok {
		return s
	}
	if len(m.byKey) >= maxMeasuredMethods {
		if m.other == nil {
			m.other = newCodeSets(otherMethod)
		}
		return m.other
	}
	if m.byKey == nil {
		m.byKey = make(map[string]*codeSets)
	}
	s = newCodeSets(methodName(fullMethod))
	m.byKey[fullMethod] = s
	return s
}

// methodName is rpc.method: the full method without its leading slash, "tally.v1.CounterService/Increment".
func methodName(fullMethod string) string {
	return strings.TrimPrefix(fullMethod, "/")
}

// codeSets are one method's record options, one per status code, each a slice of its own so that
// Record takes it without copying.
type codeSets struct {
	byCode [codes.Unauthenticated + 1][]metric.RecordOption
	other  []metric.RecordOption
}

func newCodeSets(method string) *codeSets {
	s := &codeSets{}
	set := func(code string) []metric.RecordOption {
		return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("rpc.method", method),
			attribute.String("rpc.response.status_code", code),
			attribute.String("rpc.system.name", "grpc"),
		))}
	}
	for c := range s.byCode {
		s.byCode[c] = set(codeName(codes.Code(c)))
	}
	s.other = set(codeName(codes.Unknown))
	return s
}

func (s *codeSets) forCode(c codes.Code) []metric.RecordOption {
	if int(c) < len(s.byCode) {
		return s.byCode[c]
	}
	return s.other
}

// codeName is a status code's name as the conventions (and google.rpc.Code) spell it.
func codeName(c codes.Code) string {
	switch c {
	case codes.OK:
		return "OK"
	case codes.Canceled:
		return "CANCELLED"
	case codes.Unknown:
		return "UNKNOWN"
	case codes.InvalidArgument:
		return "INVALID_ARGUMENT"
	case codes.DeadlineExceeded:
		return "DEADLINE_EXCEEDED"
	case codes.NotFound:
		return "NOT_FOUND"
	case codes.AlreadyExists:
		return "ALREADY_EXISTS"
	case codes.PermissionDenied:
		return "PERMISSION_DENIED"
	case codes.ResourceExhausted:
		return "RESOURCE_EXHAUSTED"
	case codes.FailedPrecondition:
		return "FAILED_PRECONDITION"
	case codes.Aborted:
		return "ABORTED"
	case codes.OutOfRange:
		return "OUT_OF_RANGE"
	case codes.Unimplemented:
		return "UNIMPLEMENTED"
	case codes.Internal:
		return "INTERNAL"
	case codes.Unavailable:
		return "UNAVAILABLE"
	case codes.DataLoss:
		return "DATA_LOSS"
	case codes.Unauthenticated:
		return "UNAUTHENTICATED"
	}
	return "UNKNOWN"
}

// metadataCarrier reads a call's incoming metadata for a propagator.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
