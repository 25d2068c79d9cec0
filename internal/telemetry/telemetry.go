package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/stats"
)

// instrumentationName is the scope of the instruments this package makes for the server.
const instrumentationName = "github.com/tally-dev/tally/internal/telemetry"

// Telemetry holds the providers Setup made and what is built on them. Its methods are safe for
// concurrent use.
type Telemetry struct {
	tracerProvider trace.TracerProvider
	sdkTracer      *sdktrace.TracerProvider // nil while tracing is off
	meterProvider  *sdkmetric.MeterProvider
	propagator     propagation.TextMapPropagator
	registry       *prometheus.Registry
	metrics        http.Handler
	server         stats.Handler
	client         *clientHandler

	shed          metric.Int64Counter
	shedLimitOpts []metric.AddOption
}

// Setup builds the tracer and meter providers opts ask for. Shutdown releases them. It connects
// to nothing: OTLP exporters dial lazily, so an unreachable collector costs dropped telemetry,
// never a failed start.
func Setup(ctx context.Context, opts Options) (*Telemetry, error) {
	tracesProtocol, err := protocol("traces", opts.TracesProtocol)
	if err != nil {
		return nil, err
	}
	metricsProtocol, err := protocol("metrics", opts.MetricsProtocol)
	if err != nil {
		return nil, err
	}
	res, err := newResource(ctx, opts)
	if err != nil {
		return nil, err
	}
	t := &Telemetry{
		// W3C trace context, whether or not spans are recorded: a caller's trace id then reaches
		// this server's logs even with tracing off. Not W3C baggage: the server uses none, and a
		// propagator extracting a caller's baggage would inject it again into every Firestore call
		// made in that call's context, handing whatever callers put there on to Google.
		propagator: propagation.TraceContext{},
	}
	if err := t.setupTraces(ctx, opts, tracesProtocol, res); err != nil {
		return nil, err
	}
	if err := t.setupMetrics(ctx, opts, metricsProtocol, res); err != nil {
		return nil, errors.Join(err, t.shutdownTraces(ctx))
	}
	grpcOpts := []otelgrpc.Option{
		otelgrpc.WithTracerProvider(t.tracerProvider),
		otelgrpc.WithMeterProvider(t.meterProvider),
		otelgrpc.WithPropagators(t.propagator),
	}
	var spans stats.Handler
	if t.sdkTracer != nil {
		// Spans only: rpcServerHandler measures the calls.
		spans = otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(t.tracerProvider),
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelgrpc.WithPropagators(t.propagator),
			otelgrpc.WithFilter(notHealthCheck),
		)
	}
	if t.server, err = newRPCServerHandler(t.meterProvider.Meter(instrumentationName), t.propagator, spans); err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: the RPC duration histogram: %w", err), t.Shutdown(ctx))
	}
	t.client = &clientHandler{
		traced: otelgrpc.NewClientHandler(grpcOpts...),
		// The same metrics (the same meter provider, so the same instruments), no spans and no
		// trace context on the wire.
		untraced: otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(noop.NewTracerProvider()),
			otelgrpc.WithMeterProvider(t.meterProvider),
			otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		),
	}
	if err := t.newShedCounter(); err != nil {
		return nil, errors.Join(err, t.Shutdown(ctx))
	}
	return t, nil
}

// newResource describes this process: the service, the SDK, then what OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES say, which win.
func newResource(ctx context.Context, opts Options) (*resource.Resource, error) {
	name := opts.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if opts.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", opts.ServiceVersion))
	}
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry: describing the resource: %w", err)
	}
	return res, nil
}

// notHealthCheck keeps grpc.health.v1 calls, which load balancers make every few seconds, out
// of the traces and the RPC metrics.
func notHealthCheck(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/")
}

// TracerProvider is the provider of the server's spans: a no-op one unless traces are exported
// or Options.SpanProcessors were given. Pass it to shard.Options.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tracerProvider }

// Tracing reports whether spans are recorded at all.
func (t *Telemetry) Tracing() bool { return t.sdkTracer != nil }

// MeterProvider is the provider of the server's metrics. Pass it to shard.Options.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meterProvider }

// Propagator is the W3C trace context propagator the stats handlers use (traceparent and
// tracestate; W3C baggage is neither extracted nor injected).
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.propagator }

// ServerStatsHandler traces and measures the API server's calls, continuing the callers' traces:
// install it with grpc.StatsHandler. Health checks are left out.
func (t *Telemetry) ServerStatsHandler() stats.Handler { return t.server }

// ClientStatsHandler traces and measures the calls of a client connection, passing the trace
// context on: install it on the Firestore client's connection (grpc.WithStatsHandler), so that
// every Firestore call is a child of the span that made it. Calls made in a context from
// Untraced are measured but not traced.
func (t *Telemetry) ClientStatsHandler() stats.Handler { return t.client }

// untracedKey marks a context made by Untraced.
type untracedKey struct{}

// Untraced returns a copy of ctx whose gRPC calls through a connection with ClientStatsHandler
// are never traced: the handler starts no span for them, whatever the sampler (it does not rely
// on sampling decisions) and whatever span ctx carries, and sends no trace context (traceparent)
// with them. They are still measured like every other call (rpc.client.call.duration). Use it for
// calls that would otherwise each start a trace of their own, such as the health prober's
// periodic Firestore read.
//
// It concerns only the client stats handler: spans that other code starts in the context
// returned (the shard core's, for instance) are started as in ctx, and log lines still carry
// ctx's trace and span ids.
func Untraced(ctx context.Context) context.Context {
	return context.WithValue(ctx, untracedKey{}, true)
}

// isUntraced reports whether ctx was made by Untraced.
func isUntraced(ctx context.Context) bool {
	v, _ := ctx.Value(untracedKey{}).(bool)
	return v
}

// clientHandler is ClientStatsHandler: otelgrpc's client handler, except that calls in a context
// from Untraced go to a second one that records no spans. otelgrpc's own filter sees only the
// method name, not the call's context, so it cannot tell those calls apart.
type clientHandler struct {
	traced, untraced stats.Handler
}

func (h *clientHandler) pick(ctx context.Context) stats.Handler {
	if isUntraced(ctx) {
		return h.untraced
	}
	return h.traced
}

// TagRPC gets the call's context; HandleRPC gets the context TagRPC returned, which still holds
// the mark, so that both events of a call go to the same handler.
func (h *clientHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return h.pick(ctx).TagRPC(ctx, info)
}

func (h *clientHandler) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	h.pick(ctx).HandleRPC(ctx, rs)
}

func (h *clientHandler) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	return h.traced.TagConn(ctx, info)
}

func (h *clientHandler) HandleConn(ctx context.Context, cs stats.ConnStats) {
	h.traced.HandleConn(ctx, cs)
}

// Shutdown flushes what is buffered to the exporters and stops them. The Prometheus handler
// serves nothing after it.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.shutdownTraces(ctx), t.meterProvider.Shutdown(ctx))
}

func (t *Telemetry) shutdownTraces(ctx context.Context) error {
	if t.sdkTracer == nil {
		return nil
	}
	return t.sdkTracer.Shutdown(ctx)
}
