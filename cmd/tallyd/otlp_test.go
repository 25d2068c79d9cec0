package main

import (
	"context"
	"encoding/hex"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// exportedSpan is what the test collector keeps of a span: its name and where it is in its trace.
type exportedSpan struct {
	name, traceID, spanID, parentID string
}

// spanCollector is an OTLP/gRPC receiver of traces and metrics that keeps every span it is sent
// and the names of the metrics.
type spanCollector struct {
	colltrace.UnimplementedTraceServiceServer

	mu      sync.Mutex
	spans   []exportedSpan
	metrics map[string]bool
}

func (c *spanCollector) Export(_ context.Context, req *colltrace.ExportTraceServiceRequest) (*colltrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, exportedSpan{
					name:     s.GetName(),
					traceID:  hex.EncodeToString(s.GetTraceId()),
					spanID:   hex.EncodeToString(s.GetSpanId()),
					parentID: hex.EncodeToString(s.GetParentSpanId()),
				})
			}
		}
	}
	return &colltrace.ExportTraceServiceResponse{}, nil
}

// collectorMetrics is the collector's metrics service, whose Export has another signature.
type collectorMetrics struct {
	collmetrics.UnimplementedMetricsServiceServer
	c *spanCollector
}

func (m collectorMetrics) Export(_ context.Context, req *collmetrics.ExportMetricsServiceRequest) (*collmetrics.ExportMetricsServiceResponse, error) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, metric := range sm.GetMetrics() {
				m.c.metrics[metric.GetName()] = true
			}
		}
	}
	return &collmetrics.ExportMetricsServiceResponse{}, nil
}

// startCollector serves a new collector on loopback and returns it with its endpoint URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT takes it.
func startCollector(t *testing.T) (*spanCollector, string) {
	t.Helper()
	c := &spanCollector{metrics: map[string]bool{}}
	gs := grpc.NewServer()
	colltrace.RegisterTraceServiceServer(gs, c)
	collmetrics.RegisterMetricsServiceServer(gs, collectorMetrics{c: c})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return c, "http://" + lis.Addr().String()
}

// TestTracesExportedByTallyd runs the tallyd binary with the standard OTLP variables pointing at
// a collector in the test, sends one Increment carrying the caller's W3C trace context and stops
// tallyd with SIGTERM, which flushes what it buffered. With the default sampler the collector has
// the trace of that call: the server span, a child of the caller's span; beneath it the batch
// that committed the increment; beneath that, the Firestore Commit, all in the caller's trace.
// With OTEL_TRACES_SAMPLER=always_off no span is exported at all, and the metrics still are.
func TestTracesExportedByTallyd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tallyd binary")
	}
	t.Parallel()
	bin := buildBinaries(t).tallyd
	const (
		traceID      = "5af7183fb1d4cf5f8ad6b9c8e4a1f2d3"
		callerSpanID = "b7ad6b7169203331"
	)
	for _, tt := range []struct {
		name    string
		sampler string
		traced  bool
	}{
		{"default sampler", "parentbased_always_on", true},
		{"always off", "always_off", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			collector, endpoint := startCollector(t)
			cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--admin-addr=", "--data-dir", t.TempDir(), "--log-level", "warn")
			// Later duplicates win: these override whatever OTEL_* the test runs under.
			cmd.Env = tallydEnviron("OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
				"OTEL_TRACES_SAMPLER="+tt.sampler, "OTEL_TRACES_EXPORTER=otlp", "OTEL_METRICS_EXPORTER=otlp", "OTEL_SDK_DISABLED=false")
			p := testproc.StartServing(t, "tallyd", cmd, tallydServing)
			c := dial(t, p.Addr)
			// Incremented beforehand, in a trace of its own, so that the traced batch makes one
			// call, its commit: the first batch of a counter also creates it, or reads its state
			// in a transaction of its own.
			if _, err := c.Increment(t.Context(), &tallyv1.IncrementRequest{Name: "counters/traced", Delta: 1}); err != nil {
				t.Fatal(err)
			}
			ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", "00-"+traceID+"-"+callerSpanID+"-01")
			if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/traced", Delta: 1}); err != nil {
				t.Fatal(err)
			}
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("tallyd after SIGTERM: %v", err)
			}

			collector.mu.Lock()
			defer collector.mu.Unlock()
			if !collector.metrics["tally.increments"] {
				t.Errorf("the collector got metrics %v, not tally.increments", collector.metrics)
			}
			if !tt.traced {
				if len(collector.spans) != 0 {
					t.Errorf("the collector got %d spans with the sampler always_off, want none: %v", len(collector.spans), collector.spans)
				}
				return
			}
			// Each link of the chain is the only span of its name whose parent is the link before.
			parent := exportedSpan{name: "the caller's span", traceID: traceID, spanID: callerSpanID}
			for _, name := range []string{"tally.v1.CounterService/Increment", "tally.commit_batch", "google.firestore.v1.Firestore/Commit"} {
				var children []exportedSpan
				for _, s := range collector.spans {
					if s.name == name && s.parentID == parent.spanID {
						children = append(children, s)
					}
				}
				if len(children) != 1 {
					t.Fatalf("%d spans %s are children of %s %s, want 1; the collector got:\n%s", len(children), name, parent.name, parent.spanID, spanTree(collector.spans))
				}
				if children[0].traceID != traceID {
					t.Errorf("span %s is in trace %s, want the caller's %s", name, children[0].traceID, traceID)
				}
				parent = children[0]
			}
		})
	}
}

// spanTree lists spans one a line, for a failure message.
func spanTree(spans []exportedSpan) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(s.traceID + " " + s.parentID + " -> " + s.spanID + " " + s.name + "\n")
	}
	return b.String()
}
