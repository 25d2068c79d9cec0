package telemetry_test

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/internal/telemetry"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/service"
	"github.com/tally-dev/tally/shard"
)

// stack is tallyd's serving path as cmd/tallyd wires it, with in-memory exporters: a gRPC
// server with the telemetry's server stats handler, over service.Server, over shard.Counters,
// over the official Firestore client (with the client stats handler and a fault injector) and
// an in-memory emulator.
type stack struct {
	tel      *telemetry.Telemetry
	spans    *tracetest.SpanRecorder
	reader   *sdkmetric.ManualReader
	counters *shard.Counters
	client   *firestore.Client // the counters' connection to the emulator
	inj      *faultinject.Injector
	api      tallyv1.CounterServiceClient
	addr     string // the server's
	// stopServer stops the gRPC server once every call has been handled, so that the server's
	// spans and RPC metrics are all recorded; stop does that, then closes the counters, so that
	// every batch's span has ended too.
	stopServer, stop func()
}

func newStack(t *testing.T, opts shard.Options) *stack {
	t.Helper()
	st := &stack{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(), inj: faultinject.New()}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{
		SpanProcessors: []sdktrace.SpanProcessor{st.spans},
		Sampler:        sdktrace.ParentBased(sdktrace.AlwaysSample()),
		MetricReaders:  []sdkmetric.Reader{st.reader},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Errorf("telemetry shutdown: %v", err)
		}
	})
	st.tel = tel

	em := emulatortest.Start(t, emulator.Options{})
	client := emulatortest.NewClient(t, em.Addr(), "tally-test",
		append(st.inj.DialOptions(), grpc.WithStatsHandler(tel.ClientStatsHandler()))...)
	opts.TracerProvider, opts.MeterProvider = tel.TracerProvider(), tel.MeterProvider()
	counters, err := shard.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	st.counters, st.client = counters, client

	gs := grpc.NewServer(grpc.ForceServerCodecV2(service.Codec()), grpc.StatsHandler(tel.ServerStatsHandler()))
	tallyv1.RegisterCounterServiceServer(gs, service.New(service.Options{Counters: counters}))
	st.addr = serve(t, gs)
	conn := dial(t, st.addr)
	st.api = tallyv1.NewCounterServiceClient(conn)
	var serverOnce, countersOnce sync.Once
	st.stopServer = func() {
		serverOnce.Do(func() {
			_ = conn.Close()
			gs.GracefulStop() // returns once every handler has returned, with its stats handled
		})
	}
	st.stop = func() {
		st.stopServer()
		countersOnce.Do(func() {
			if err := counters.Close(context.Background()); err != nil {
				t.Errorf("closing counters: %v", err)
			}
		})
	}
	t.Cleanup(st.stop)
	return st
}

// serve runs gs on a loopback listener until the test ends (the caller may stop it earlier) and
// returns its address.
func serve(t *testing.T, gs *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// dial returns a client connection to addr, closed when the test ends.
func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// collect reads the metrics recorded so far.
func (st *stack) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := st.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// metric returns the named metric of rm; ok is false if there is none.
func metricNamed(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// queueDepth is the last observed tally.queue.depth.
func (st *stack) queueDepth(t *testing.T) int64 {
	t.Helper()
	m, ok := metricNamed(st.collect(t), "tally.queue.depth")
	if !ok {
		t.Fatal("no tally.queue.depth")
	}
	g := m.Data.(metricdata.Gauge[int64])
	if len(g.DataPoints) != 1 {
		t.Fatalf("tally.queue.depth has %d data points, want 1", len(g.DataPoints))
	}
	return g.DataPoints[0].Value
}

// waitQueued waits until n increments wait in the store's queues, as tally.queue.depth reports.
func (st *stack) waitQueued(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for st.queueDepth(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d increments queued after 10s, want %d", st.queueDepth(t), n)
		}
		runtime.Gosched()
	}
}

// holdLane makes the counter's next plain commit wait for release after Firestore applied it, so
// that the calls sent meanwhile queue behind it and go out as one batch. It returns after the
// commit of prior (an Increment sent here) is held, and the channel prior is answered on.
func (st *stack) holdLane(t *testing.T, release chan struct{}, prior *tallyv1.IncrementRequest) chan error {
	t.Helper()
	hold := st.inj.Arm(faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit,
		Action: faultinject.DelayAfter, Release: release})
	done := st.send(prior)
	select {
	case <-hold.Hit():
	case err := <-done:
		t.Fatalf("the held increment was answered %v before its commit was held", err)
	}
	return done
}

// send makes an Increment call in the background; its error comes on the channel.
func (st *stack) send(req *tallyv1.IncrementRequest) chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := st.api.Increment(ctx, req)
		done <- err
	}()
	return done
}

// attr returns the value of attribute k in attrs; ok is false if it is not there.
func attr(attrs []attribute.KeyValue, k string) (attribute.Value, bool) {
	for _, a := range attrs {
		if string(a.Key) == k {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// shardInstruments returns the name of every metric instrument the sharding core makes, whatever
// traffic it then sees: shard.New makes them all, on a meter provider whose view sees each one
// made. It uses a store of its own on client, closed before it returns.
func shardInstruments(t *testing.T, client *firestore.Client) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		names []string
	)
	mp := sdkmetric.NewMeterProvider(
		// A view applies only to the instruments of a reader's pipeline: without a reader it
		// would see none.
		sdkmetric.WithReader(sdkmetric.NewManualReader()),
		sdkmetric.WithView(func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
			mu.Lock()
			defer mu.Unlock()
			names = append(names, i.Name)
			return sdkmetric.Stream{}, false
		}))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	counters, err := shard.New(client, shard.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	if err := counters.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) == 0 {
		t.Fatal("the sharding core made no metric instruments that a view saw")
	}
	return slices.Compact(slices.Sorted(slices.Values(names)))
}

// lineLogged is a log handler that closes seen once it handles a record with the message msg,
// so that a test can wait for that line instead of sleeping.
type lineLogged struct {
	msg  string
	seen chan struct{}
	once *sync.Once
}

func newLineLogged(msg string) lineLogged {
	return lineLogged{msg: msg, seen: make(chan struct{}), once: new(sync.Once)}
}

func (l lineLogged) Enabled(context.Context, slog.Level) bool { return true }
func (l lineLogged) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l lineLogged) WithGroup(string) slog.Handler            { return l }
func (l lineLogged) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.msg {
		l.once.Do(func() { close(l.seen) })
	}
	return nil
}

var _ slog.Handler = lineLogged{}
