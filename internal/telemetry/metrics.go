package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// setupMetrics makes the meter provider. Its Prometheus exporter writes to a registry of the
// server's own, not the process-wide default, so that nothing registered elsewhere leaks into
// /metrics; the registry also holds the Go runtime's and the process's collectors.
func (t *Telemetry) setupMetrics(ctx context.Context, opts Options, protocol string, res *resource.Resource) error {
	t.registry = prometheus.NewRegistry()
	if err := t.registry.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("telemetry: registering the Go collector: %w", err)
	}
	if err := t.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("telemetry: registering the process collector: %w", err)
	}
	prom, err := otelprom.New(
		otelprom.WithRegisterer(t.registry),
		// Named, not left to the default (which the exporter says will change): dots become
		// underscores, units and _total are appended, as Prometheus users expect.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return fmt.Errorf("telemetry: the Prometheus exporter: %w", err)
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if opts.OTLPMetrics {
		var exp sdkmetric.Exporter
		switch protocol {
		case ProtocolGRPC:
			exp, err = otlpmetricgrpc.New(ctx)
		default:
			exp, err = otlpmetrichttp.New(ctx)
		}
		if err != nil {
			return fmt.Errorf("telemetry: the OTLP metric exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	for _, r := range opts.MetricReaders {
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	t.meterProvider = sdkmetric.NewMeterProvider(mpOpts...)
	// A collector that fails leaves its metrics out; the others are still served.
	t.metrics = promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return nil
}

// MetricsHandler serves the metrics in the Prometheus exposition formats, for /metrics.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// The shed-calls counter. The sharding core counts the increments it refuses for a full queue
// into the same metric (reason "queue_full"): name, unit and description must match its own.
const (
	callsShedMetric      = "tally.calls.shed"
	callsShedDescription = "Calls refused with RESOURCE_EXHAUSTED before anything was applied, by reason."
	// ShedReasonConcurrency is the reason Shed records unless its context names another: the
	// call came over the server's limit of concurrent calls.
	ShedReasonConcurrency = "concurrency_limit"
	// ShedReasonWatches is the reason of a WatchCounter refused because the server had its limit
	// of watches open.
	ShedReasonWatches = "watch_limit"
	// ShedReasonWatchedCounters is the reason of a WatchCounter refused because the server
	// watched as many distinct counters as it may (--max-watched-counters).
	ShedReasonWatchedCounters = "watched_counters_limit"
)

// shedReasonKey is the context key of WithShedReason.
type shedReasonKey struct{}

// WithShedReason returns ctx with the reason that Shed records for a call refused in it, so that
// the server's limiters, each refusing for a reason of its own, can share one callback.
func WithShedReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, shedReasonKey{}, reason)
}

func (t *Telemetry) newShedCounter() error {
	c, err := t.meterProvider.Meter(instrumentationName).Int64Counter(callsShedMetric,
		metric.WithUnit("{call}"), metric.WithDescription(callsShedDescription))
	if err != nil {
		return fmt.Errorf("telemetry: creating %s: %w", callsShedMetric, err)
	}
	t.shed = c
	t.shedLimitOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", ShedReasonConcurrency)))}
	return nil
}

// Shed counts a call refused because the server was at its limit of concurrent calls, or for
// the reason WithShedReason put in ctx.
func (t *Telemetry) Shed(ctx context.Context) {
	if reason, ok := ctx.Value(shedReasonKey{}).(string); ok {
		t.shed.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
		return
	}
	t.shed.Add(ctx, 1, t.shedLimitOpts...)
}
