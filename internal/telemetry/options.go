package telemetry

import (
	"fmt"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// DefaultServiceName is the service.name of the resource unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise.
const DefaultServiceName = "tallyd"

// Options say what Setup exports. The zero value exports nothing over OTLP: no-op tracing, and
// metrics for Prometheus only.
type Options struct {
	// ServiceName is the resource's service.name; default DefaultServiceName. OTEL_SERVICE_NAME
	// and OTEL_RESOURCE_ATTRIBUTES take precedence, as the OpenTelemetry specification says.
	ServiceName string
	// ServiceVersion is the resource's service.version, if not empty.
	ServiceVersion string

	// OTLPTraces exports spans over OTLP with TracesProtocol (default ProtocolHTTP, the
	// specification's default). The exporter finds its endpoint, headers and TLS settings in the
	// OTEL_EXPORTER_OTLP_* variables. Without it, and without SpanProcessors, the tracer provider
	// is a no-op one.
	OTLPTraces     bool
	TracesProtocol string
	// OTLPMetrics exports metrics over OTLP with MetricsProtocol (default ProtocolHTTP), every
	// OTEL_METRIC_EXPORT_INTERVAL (default 60s), besides the Prometheus registry.
	OTLPMetrics     bool
	MetricsProtocol string

	// SpanProcessors are added to the tracer provider; with any, spans are recorded even without
	// OTLP export. Tests pass an in-memory recorder (tracetest.SpanRecorder).
	SpanProcessors []sdktrace.SpanProcessor
	// Sampler replaces the one OTEL_TRACES_SAMPLER names (default parentbased_always_on).
	Sampler sdktrace.Sampler
	// MetricReaders are added to the meter provider besides the Prometheus exporter. Tests pass a
	// sdkmetric.ManualReader.
	MetricReaders []sdkmetric.Reader
}

// EnvOptions are the Options the standard OpenTelemetry variables ask for, read with getenv
// (os.Getenv in the binary): OTLP traces when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set and OTEL_TRACES_EXPORTER is not "none"; OTLP metrics
// likewise with the METRICS variables; each signal's protocol from
// OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL. With
// OTEL_SDK_DISABLED=true nothing is exported over OTLP. Values are checked by Setup.
func EnvOptions(getenv func(string) string) Options {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	disabled := strings.EqualFold(env("OTEL_SDK_DISABLED"), "true")
	signal := func(name string) (on bool, protocol string) {
		endpoint := env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_"+name+"_ENDPOINT") != ""
		exporter := strings.ToLower(env("OTEL_" + name + "_EXPORTER"))
		protocol = env("OTEL_EXPORTER_OTLP_" + name + "_PROTOCOL")
		if protocol == "" {
			protocol = env("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		return endpoint && !disabled && exporter != "none", protocol
	}
	var o Options
	o.OTLPTraces, o.TracesProtocol = signal("TRACES")
	o.OTLPMetrics, o.MetricsProtocol = signal("METRICS")
	return o
}

// protocol checks an OTLP protocol, "" meaning the default.
func protocol(signal, p string) (string, error) {
	switch p {
	case "":
		return ProtocolHTTP, nil
	case ProtocolGRPC, ProtocolHTTP:
		return p, nil
	}
	return "", fmt.Errorf("telemetry: the OTLP %s protocol is %q; it must be %q or %q", signal, p, ProtocolGRPC, ProtocolHTTP)
}
