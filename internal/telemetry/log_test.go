package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/telemetry"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/service"
)

// logBuffer collects JSON log lines written concurrently.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes every line written.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestLogHandlerAddsTraceIDs: a line logged with a span's context carries its trace and span ids,
// through loggers derived with With and WithGroup too; a line without one carries neither.
func TestLogHandlerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	spanCtx, span := tp.Tracer("test").Start(context.Background(), "work")
	defer span.End()
	sc := span.SpanContext()
	for _, tt := range []struct {
		name   string
		logger func(*slog.Logger) *slog.Logger
		ctx    context.Context
		want   bool
		group  string // where the ids land: within the groups opened
	}{
		{"span context", func(l *slog.Logger) *slog.Logger { return l }, spanCtx, true, ""},
		{"With", func(l *slog.Logger) *slog.Logger { return l.With("component", "x") }, spanCtx, true, ""},
		{"WithGroup", func(l *slog.Logger) *slog.Logger { return l.WithGroup("g") }, spanCtx, true, "g"},
		{"no span", func(l *slog.Logger) *slog.Logger { return l }, context.Background(), false, ""},
		{"invalid span context", func(l *slog.Logger) *slog.Logger { return l },
			trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf logBuffer
			l := tt.logger(slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))))
			l.InfoContext(tt.ctx, "hello", "n", 1)
			lines := buf.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1", len(lines))
			}
			fields := lines[0]
			if tt.group != "" {
				fields, _ = fields[tt.group].(map[string]any)
			}
			gotTrace, hasTrace := fields[telemetry.TraceIDKey]
			gotSpan, hasSpan := fields[telemetry.SpanIDKey]
			if !tt.want {
				if hasTrace || hasSpan {
					t.Fatalf("line %v has trace ids without a span", lines[0])
				}
				return
			}
			if gotTrace != sc.TraceID().String() || gotSpan != sc.SpanID().String() {
				t.Fatalf("line %v: trace_id %v span_id %v, want %s %s", lines[0], gotTrace, gotSpan, sc.TraceID(), sc.SpanID())
			}
			if fields["n"] != float64(1) || lines[0]["msg"] != "hello" {
				t.Fatalf("line %v lost the record's own attributes", lines[0])
			}
		})
	}
}

// TestTracingOffLogsCarryTheCallersTraceID: with nothing exported (a no-op tracer provider), the
// server stats handler still takes the caller's W3C trace context, so the server's lines about a
// call name the caller's trace.
func TestTracingOffLogsCarryTheCallersTraceID(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if tel.Tracing() {
		t.Fatal("tracing is on without an exporter or span processors")
	}
	var logs logBuffer
	// A server without counters answers every call INTERNAL and logs it with the call's context.
	gs := grpc.NewServer(grpc.ForceServerCodecV2(service.Codec()), grpc.StatsHandler(tel.ServerStatsHandler()))
	tallyv1.RegisterCounterServiceServer(gs, service.New(service.Options{
		Logger: slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&logs, nil)))}))
	addr := serve(t, gs)

	callerSpans := tracetest.NewSpanRecorder()
	callerTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(callerSpans))
	t.Cleanup(func() { _ = callerTP.Shutdown(context.Background()) })
	conn := dial(t, addr, grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(callerTP), otelgrpc.WithPropagators(tel.Propagator()))))
	_, err = tallyv1.NewCounterServiceClient(conn).Increment(context.Background(), &tallyv1.IncrementRequest{Name: "counters/c", Delta: 1})
	if status.Code(err) != codes.Internal {
		t.Fatalf("increment without counters: %v, want INTERNAL", err)
	}
	gs.GracefulStop()

	callers := callerSpans.Ended()
	if len(callers) != 1 {
		t.Fatalf("%d caller spans, want 1", len(callers))
	}
	want := callers[0].SpanContext().TraceID().String()
	lines := logs.lines(t)
	if len(lines) == 0 {
		t.Fatal("the server logged nothing about the failed call")
	}
	for _, l := range lines {
		if l[telemetry.TraceIDKey] != want {
			t.Errorf("line %v: trace_id %v, want the caller's %s", l, l[telemetry.TraceIDKey], want)
		}
	}
}
