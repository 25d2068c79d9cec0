// Package telemetry sets up tallyd's OpenTelemetry traces and metrics and what connects them to
// the rest of the server: gRPC stats handlers for the API server and for the Firestore client's
// connection, a Prometheus handler for /metrics, and a log handler that puts the trace and span
// ids of a record's context on every line.
//
// Traces are exported over OTLP (gRPC or HTTP/protobuf) when the server's environment names an
// endpoint; otherwise the tracer provider is a no-op one, spans cost nothing, and W3C trace
// context is still propagated, so that a caller's trace id reaches the logs. W3C baggage is not
// propagated: a caller's baggage is neither kept nor passed on to Firestore. Calls in a context
// from Untraced are left out of the traces of the client stats handler (still measured). Metrics
// always go to a Prometheus registry of their own, and over OTLP as well when a metrics endpoint
// is named.
//
// Setup takes an Options value: the binary decides, from its environment (EnvOptions), what is
// exported. The OpenTelemetry SDK and its exporters read the standard OTEL_* variables for the
// rest (endpoints, headers, sampler, resource attributes, export intervals).
package telemetry
