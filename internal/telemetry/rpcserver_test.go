package telemetry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/telemetry"
)

// serverDurations sends calls of the given methods, each ending with code, through the server
// stats handler, and returns the recorded rpc.server.call.duration counts by rpc.method and
// rpc.response.status_code.
func serverDurations(t *testing.T, calls []string, code codes.Code) map[[2]string]uint64 {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{MetricReaders: []sdkmetric.Reader{reader}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	h := tel.ServerStatsHandler()
	for _, m := range calls {
		ctx := h.TagRPC(context.Background(), &stats.RPCTagInfo{FullMethodName: m})
		begin := time.Now()
		h.HandleRPC(ctx, &stats.Begin{BeginTime: begin})
		h.HandleRPC(ctx, &stats.End{BeginTime: begin, EndTime: begin.Add(3 * time.Millisecond), Error: status.Error(code, "x")})
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[[2]string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "rpc.server.call.duration" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := dp.Attributes.Value("rpc.method")
				code, _ := dp.Attributes.Value("rpc.response.status_code")
				if sys, _ := dp.Attributes.Value("rpc.system.name"); sys.AsString() != "grpc" || dp.Attributes.Len() != 3 {
					t.Errorf("attributes %v, want rpc.method, rpc.response.status_code and rpc.system.name=grpc", dp.Attributes.ToSlice())
				}
				got[[2]string{method.AsString(), code.AsString()}] += dp.Count
			}
		}
	}
	return got
}

// TestServerCallDurations: every call but health checks is measured under its method and code;
// methods beyond the bound share the _OTHER series, so callers inventing method names cannot grow
// the server's series without end.
func TestServerCallDurations(t *testing.T) {
	t.Parallel()
	t.Run("methods and codes", func(t *testing.T) {
		t.Parallel()
		got := serverDurations(t, []string{
			"/tally.v1.CounterService/Increment", "/tally.v1.CounterService/Increment",
			"/tally.v1.CounterService/GetCounter", "/grpc.health.v1.Health/Check",
		}, codes.NotFound)
		want := map[[2]string]uint64{
			{"tally.v1.CounterService/Increment", "NOT_FOUND"}:  2,
			{"tally.v1.CounterService/GetCounter", "NOT_FOUND"}: 1,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("durations %v, want %v", got, want)
		}
	})
	t.Run("invented methods", func(t *testing.T) {
		t.Parallel()
		var calls []string
		for i := range 200 {
			calls = append(calls, fmt.Sprintf("/made.Up/M%d", i))
		}
		got := serverDurations(t, calls, codes.Unimplemented)
		if len(got) != 65 {
			t.Errorf("%d series for 200 invented methods, want 64 and one _OTHER", len(got))
		}
		if n := got[[2]string{"_OTHER", "UNIMPLEMENTED"}]; n != 200-64 {
			t.Errorf("_OTHER counted %d calls, want %d", n, 200-64)
		}
	})
}
