package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// setupTraces makes the tracer provider: the SDK's, batching spans to an OTLP exporter and to
// the given processors, or a no-op one when there are neither.
func (t *Telemetry) setupTraces(ctx context.Context, opts Options, protocol string, res *resource.Resource) error {
	if !opts.OTLPTraces && len(opts.SpanProcessors) == 0 {
		t.tracerProvider = noop.NewTracerProvider()
		return nil
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if opts.Sampler != nil {
		tpOpts = append(tpOpts, sdktrace.WithSampler(opts.Sampler))
	}
	if opts.OTLPTraces {
		var exp sdktrace.SpanExporter
		var err error
		switch protocol {
		case ProtocolGRPC:
			exp, err = otlptracegrpc.New(ctx)
		default:
			exp, err = otlptracehttp.New(ctx)
		}
		if err != nil {
			return fmt.Errorf("telemetry: the OTLP trace exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	for _, p := range opts.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	t.tracerProvider, t.sdkTracer = tp, tp
	return nil
}
