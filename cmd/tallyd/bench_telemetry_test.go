package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// BenchmarkTelemetryCost measures the keyed hot-counter load of BenchmarkIncrementHotCounter
// (64 clients over one connection, a fresh idempotency key per call) against tallyd as
// deployed three ways: telemetry as by default (metrics kept for Prometheus, nothing scraped, no
// tracing); tracing on with the default sampler (parentbased_always_on: every call of this load
// is a sampled root), exporting over OTLP/gRPC to a collector in the test that counts and drops
// the spans; and /metrics scraped every second. Compare them in alternating runs.
func BenchmarkTelemetryCost(b *testing.B) {
	extra := strings.Fields(os.Getenv("TALLYD_BENCH_ARGS"))
	b.Run("telemetry=default", func(b *testing.B) {
		benchmarkIncrementOn(b, startTallyd(b, "", extra...), 64, 1, "with-keys")
	})
	b.Run("telemetry=traced", func(b *testing.B) {
		sink := startSpanSink(b)
		// tallyd reads these through its lookupEnv, and the OTLP exporter from the process's
		// environment itself: both must hold them.
		otel := map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + sink.addr,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		}
		for k, v := range otel {
			b.Setenv(k, v)
		}
		srv := startTallydEnv(b, otel, "", extra...)
		benchmarkIncrementOn(b, srv, 64, 1, "with-keys")
		if err := srv.stop(); err != nil { // flushes the spans still batched
			b.Fatal(err)
		}
		b.ReportMetric(float64(sink.spans.Load())/float64(b.N), "spans/call")
	})
	b.Run("telemetry=scraped", func(b *testing.B) {
		srv := startTallyd(b, "", append([]string{"--admin-addr", "127.0.0.1:0"}, extra...)...)
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		var scrapes atomic.Int64
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				resp, err := http.Get("http://" + srv.admin + "/metrics")
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				scrapes.Add(1)
			}
		}()
		benchmarkIncrementOn(b, srv, 64, 1, "with-keys")
		stop()
		b.ReportMetric(float64(scrapes.Load())/b.Elapsed().Seconds(), "scrapes/s")
	})
}

// spanSink is an OTLP trace collector that counts the spans it receives and keeps none.
type spanSink struct {
	coltracepb.UnimplementedTraceServiceServer
	addr  string
	spans atomic.Int64
}

func (s *spanSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			s.spans.Add(int64(len(ss.GetSpans())))
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func startSpanSink(b *testing.B) *spanSink {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sink := &spanSink{addr: lis.Addr().String()}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, sink)
	go func() { _ = gs.Serve(lis) }()
	b.Cleanup(gs.Stop)
	return sink
}
