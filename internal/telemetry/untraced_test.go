package telemetry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/telemetry"
)

// TestUntracedFirestoreCalls: Firestore reads in a context from Untraced, as the health prober
// makes them, start no span, neither as a root nor under a span in the context, even with a
// sampler that samples every root; they are measured all the same. A read in the plain context is
// traced as before.
func TestUntracedFirestoreCalls(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{
		SpanProcessors: []sdktrace.SpanProcessor{spans},
		Sampler:        sdktrace.AlwaysSample(), // not parent-based: Untraced must not rely on sampling
		MetricReaders:  []sdkmetric.Reader{reader},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	em := emulatortest.Start(t, emulator.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-test", grpc.WithStatsHandler(tel.ClientStatsHandler()))
	doc := client.Collection("tally_health").Doc("probe")

	ctx, parent := tel.TracerProvider().Tracer("test").Start(context.Background(), "parent")
	read := func(ctx context.Context) {
		t.Helper()
		if _, err := doc.Get(ctx); status.Code(err) != codes.NotFound {
			t.Fatalf("reading a missing document: %v, want NotFound", err)
		}
	}
	read(telemetry.Untraced(context.Background())) // would be a root trace of its own
	read(telemetry.Untraced(ctx))                  // would be a child of parent
	read(ctx)                                      // traced
	parent.End()

	// Every read is measured; wait for the last one's end, which the stream delivers.
	deadline := time.Now().Add(10 * time.Second)
	for calls := readsMeasured(t, reader); calls != 3; calls = readsMeasured(t, reader) {
		if time.Now().After(deadline) {
			t.Fatalf("rpc.client.call.duration counted %d BatchGetDocuments calls, want 3: untraced calls are measured too", calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var firestore []sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if strings.HasPrefix(s.Name(), "google.firestore.v1.Firestore/") {
			firestore = append(firestore, s)
		}
	}
	if len(firestore) != 1 || firestore[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("%d Firestore spans %v, want one, the traced read's, a child of the parent span", len(firestore), names(spans))
	}
	p := spansNamed(spans, "parent")[0]
	if len(p.Events()) != 0 || len(p.Attributes()) != 0 || p.Status().Code != 0 {
		t.Errorf("the parent span got events %v, attributes %v, status %v from the calls", p.Events(), p.Attributes(), p.Status())
	}
}

// readsMeasured is how many BatchGetDocuments calls rpc.client.call.duration has counted.
func readsMeasured(t *testing.T, reader *sdkmetric.ManualReader) uint64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	m, ok := metricNamed(rm, "rpc.client.call.duration")
	if !ok {
		return 0
	}
	var n uint64
	for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if v, ok := dp.Attributes.Value("rpc.method"); ok && v.AsString() == "google.firestore.v1.Firestore/BatchGetDocuments" {
			n += dp.Count
		}
	}
	return n
}
