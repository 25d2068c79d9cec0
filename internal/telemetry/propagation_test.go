package telemetry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/tally-dev/tally/internal/telemetry"
)

// tracedTelemetry sets up telemetry that records every span in memory.
func tracedTelemetry(t *testing.T) (*telemetry.Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{
		SpanProcessors: []sdktrace.SpanProcessor{spans},
		Sampler:        sdktrace.AlwaysSample(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, spans
}

// withBaggage is ctx with a caller's baggage.
func withBaggage(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	m, err := baggage.NewMember("tenant", "secret-tenant")
	if err != nil {
		t.Fatal(err)
	}
	b, err := baggage.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return baggage.ContextWithBaggage(ctx, b)
}

// endCall delivers the end of a call tagged ctx to h, which ends its span.
func endCall(h stats.Handler, ctx context.Context, client bool) {
	now := time.Now()
	h.HandleRPC(ctx, &stats.End{Client: client, BeginTime: now, EndTime: now})
}

// TestPropagatorIsTraceContextOnly: the propagator carries W3C trace context and nothing else.
func TestPropagatorIsTraceContextOnly(t *testing.T) {
	t.Parallel()
	tel, _ := tracedTelemetry(t)
	fields := tel.Propagator().Fields()
	slices.Sort(fields)
	if !slices.Equal(fields, []string{"traceparent", "tracestate"}) {
		t.Errorf("the propagator's fields are %v, want traceparent and tracestate only", fields)
	}
}

// TestServerDropsCallersBaggage: a call arriving with W3C trace context and baggage continues the
// caller's trace, but its context holds no baggage, so none can reach the Firestore calls made in
// it.
func TestServerDropsCallersBaggage(t *testing.T) {
	t.Parallel()
	tel, _ := tracedTelemetry(t)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"traceparent", traceparent, "baggage", "tenant=secret-tenant"))
	h := tel.ServerStatsHandler()
	ctx = h.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: "/tally.v1.CounterService/Increment"})
	defer endCall(h, ctx, false)
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the server span's trace is %s, want the caller's", got)
	}
	if b := baggage.FromContext(ctx); b.Len() != 0 {
		t.Errorf("the call's context holds the caller's baggage %q", b.String())
	}
}

// TestClientSendsTraceContextOnly: a Firestore call sends traceparent, never baggage, even when
// its context holds some; a call in a context from Untraced sends neither.
func TestClientSendsTraceContextOnly(t *testing.T) {
	t.Parallel()
	tel, spans := tracedTelemetry(t)
	ctx, parent := tel.TracerProvider().Tracer("test").Start(withBaggage(t, context.Background()), "parent")
	defer parent.End()
	h := tel.ClientStatsHandler()
	info := &stats.RPCTagInfo{FullMethodName: "/google.firestore.v1.Firestore/Commit"}
	for _, tt := range []struct {
		name      string
		ctx       context.Context
		wantTrace bool
	}{
		{"traced", ctx, true},
		{"untraced", telemetry.Untraced(ctx), false},
	} {
		out := h.TagRPC(tt.ctx, info)
		endCall(h, out, true)
		md, _ := metadata.FromOutgoingContext(out)
		if got := len(md.Get("traceparent")) > 0; got != tt.wantTrace {
			t.Errorf("%s call: traceparent sent %v, want %v (metadata %v)", tt.name, got, tt.wantTrace, md)
		}
		if got := md.Get("baggage"); len(got) > 0 {
			t.Errorf("%s call sends the caller's baggage %q", tt.name, got)
		}
	}
	var commits int
	for _, s := range spans.Ended() {
		if s.Name() == "google.firestore.v1.Firestore/Commit" {
			commits++
		}
	}
	if commits != 1 {
		t.Errorf("%d Commit spans, want 1: the traced call's", commits)
	}
}
