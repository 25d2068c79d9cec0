package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/internal/telemetry"
)

// collector is an OTLP receiver, over gRPC or HTTP/protobuf, that remembers the names of the
// spans and metrics it is sent.
type collector struct {
	colltrace.UnimplementedTraceServiceServer

	mu      sync.Mutex
	spans   map[string]bool
	metrics map[string]bool
}

func newCollector() *collector {
	return &collector{spans: map[string]bool{}, metrics: map[string]bool{}}
}

func (c *collector) Export(_ context.Context, req *colltrace.ExportTraceServiceRequest) (*colltrace.ExportTraceServiceResponse, error) {
	c.addSpans(req)
	return &colltrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) addSpans(req *colltrace.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans[s.GetName()] = true
			}
		}
	}
}

func (c *collector) addMetrics(req *collmetrics.ExportMetricsServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				c.metrics[m.GetName()] = true
			}
		}
	}
}

// metricsService adapts the collector to the metrics service, whose Export has another signature.
type metricsService struct {
	collmetrics.UnimplementedMetricsServiceServer
	c *collector
}

func (m metricsService) Export(_ context.Context, req *collmetrics.ExportMetricsServiceRequest) (*collmetrics.ExportMetricsServiceResponse, error) {
	m.c.addMetrics(req)
	return &collmetrics.ExportMetricsServiceResponse{}, nil
}

// serveGRPC runs the collector as an OTLP/gRPC receiver and returns its endpoint URL.
func (c *collector) serveGRPC(t *testing.T) string {
	gs := grpc.NewServer()
	colltrace.RegisterTraceServiceServer(gs, c)
	collmetrics.RegisterMetricsServiceServer(gs, metricsService{c: c})
	return "http://" + serve(t, gs)
}

// serveHTTP runs the collector as an OTLP/HTTP receiver and returns its endpoint URL.
func (c *collector) serveHTTP(t *testing.T) string {
	mux := http.NewServeMux()
	handle := func(path string, req, resp proto.Message, add func()) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err == nil {
				err = proto.Unmarshal(body, req)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			add()
			out, _ := proto.Marshal(resp)
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(out)
		})
	}
	traces, metrics := &colltrace.ExportTraceServiceRequest{}, &collmetrics.ExportMetricsServiceRequest{}
	handle("/v1/traces", traces, &colltrace.ExportTraceServiceResponse{}, func() { c.addSpans(traces) })
	handle("/v1/metrics", metrics, &collmetrics.ExportMetricsServiceResponse{}, func() { c.addMetrics(metrics) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOTLPExport: with OTEL_EXPORTER_OTLP_ENDPOINT and the protocol set, as an operator sets
// them, EnvOptions turns on both exporters, and Shutdown flushes a span and a metric to the
// collector over that protocol.
func TestOTLPExport(t *testing.T) {
	for _, protocol := range []string{telemetry.ProtocolGRPC, telemetry.ProtocolHTTP} {
		t.Run(protocol, func(t *testing.T) {
			c := newCollector()
			endpoint := c.serveHTTP
			if protocol == telemetry.ProtocolGRPC {
				endpoint = c.serveGRPC
			}
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(t))
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
			opts := telemetry.EnvOptions(os.Getenv)
			if !opts.OTLPTraces || !opts.OTLPMetrics {
				t.Fatalf("EnvOptions with an endpoint: %+v, want both signals exported", opts)
			}
			ctx := context.Background()
			tel, err := telemetry.Setup(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !tel.Tracing() {
				t.Fatal("tracing is off with an OTLP endpoint")
			}
			_, span := tel.TracerProvider().Tracer("test").Start(ctx, "exported-span")
			span.End()
			tel.Shed(ctx)
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.spans["exported-span"] {
				t.Errorf("the collector got spans %v, not exported-span", c.spans)
			}
			if !c.metrics["tally.calls.shed"] {
				t.Errorf("the collector got metrics %v, not tally.calls.shed", c.metrics)
			}
		})
	}
}

func TestEnvOptions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  map[string]string
		want telemetry.Options
	}{
		{"nothing set", nil, telemetry.Options{}},
		{"one endpoint for both", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			telemetry.Options{OTLPTraces: true, OTLPMetrics: true}},
		{"traces only, over gRPC", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			telemetry.Options{OTLPTraces: true, TracesProtocol: "grpc", MetricsProtocol: "grpc"}},
		{"metrics only, signal protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"},
			telemetry.Options{OTLPMetrics: true, TracesProtocol: "grpc", MetricsProtocol: "http/protobuf"}},
		{"traces exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
			telemetry.Options{OTLPMetrics: true}},
		{"SDK disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
			telemetry.Options{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := telemetry.EnvOptions(func(k string) string { return tt.env[k] })
			if got.OTLPTraces != tt.want.OTLPTraces || got.OTLPMetrics != tt.want.OTLPMetrics ||
				got.TracesProtocol != tt.want.TracesProtocol || got.MetricsProtocol != tt.want.MetricsProtocol {
				t.Errorf("EnvOptions(%v) = %+v, want %+v", tt.env, got, tt.want)
			}
		})
	}
}

func TestSetupRefusesUnknownProtocol(t *testing.T) {
	t.Parallel()
	for _, opts := range []telemetry.Options{
		{OTLPTraces: true, TracesProtocol: "http/json"},
		{OTLPMetrics: true, MetricsProtocol: "udp"},
	} {
		if tel, err := telemetry.Setup(context.Background(), opts); err == nil {
			_ = tel.Shutdown(context.Background())
			t.Errorf("Setup(%+v) succeeded; want an error naming the protocol", opts)
		}
	}
}
