package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// healthInterval is the --health-interval of the health tests: short, so that they wait little.
const healthInterval = 100 * time.Millisecond

// healthTimeout bounds each wait for a health change: the emulator's restart and the client's
// reconnection (up to a second of backoff, see openFirestore) take most of it.
const healthTimeout = 20 * time.Second

// TestHealthFollowsFirestore runs tallyd and an external emulator as processes. While the
// emulator is killed, tallyd's gRPC health is NOT_SERVING, for the server as a whole ("", which
// the startup probe asks about) as for the counter service, and /readyz answers 503; the
// liveness service stays SERVING and /healthz 200: the process is alive. Once the emulator is
// back on its address, SERVING and 200 again, and counters are served.
func TestHealthFollowsFirestore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tallyd and the emulator as processes, and kills the emulator")
	}
	t.Parallel()
	bins := buildBinaries(t)
	emAddr := testproc.FreeAddr(t)
	emHost, emPort, _ := net.SplitHostPort(emAddr)
	em := testproc.StartEmulator(t, bins.emulator, "--in-memory", "--host", emHost, "--port", emPort, "--indexes", deployedIndexes)
	p := startAdminProcess(t, bins.tallyd,
		[]string{"FIRESTORE_EMULATOR_HOST=" + emAddr, "GOOGLE_CLOUD_PROJECT=" + replicaProject},
		"--health-interval", healthInterval.String())
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 3*healthTimeout)
	defer cancel()
	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: tallyv1.CounterService_ServiceDesc.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	readyz := "http://" + p.admin + "/readyz"

	awaitHealth(t, watch, healthpb.HealthCheckResponse_SERVING)
	wantGet(t, http.MethodGet, readyz, http.StatusOK, "ok")
	health := healthpb.NewHealthClient(conn)
	wantHealth(ctx, t, health, livenessService, healthpb.HealthCheckResponse_SERVING)

	if err := em.Kill(); err == nil {
		t.Fatal("the SIGKILLed emulator exited cleanly")
	}
	start := time.Now()
	awaitHealth(t, watch, healthpb.HealthCheckResponse_NOT_SERVING)
	t.Logf("NOT_SERVING %v after the emulator was killed", time.Since(start))
	// The prober sets "" before the counter service, so it is NOT_SERVING already.
	wantHealth(ctx, t, health, "", healthpb.HealthCheckResponse_NOT_SERVING)
	wantHealth(ctx, t, health, livenessService, healthpb.HealthCheckResponse_SERVING)
	awaitReadyz(t, readyz, http.StatusServiceUnavailable)
	wantGet(t, http.MethodGet, "http://"+p.admin+"/healthz", http.StatusOK, "ok")

	em = em.Restart(t)
	start = time.Now()
	awaitHealth(t, watch, healthpb.HealthCheckResponse_SERVING)
	t.Logf("SERVING %v after the emulator served again", time.Since(start))
	awaitReadyz(t, readyz, http.StatusOK)
	c := tallyv1.NewCounterServiceClient(conn)
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/back", Delta: 1}); err != nil {
		t.Fatalf("an increment once SERVING again: %v", err)
	}
}

// wantHealth checks the health of service once.
func wantHealth(ctx context.Context, t *testing.T, c healthpb.HealthClient, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	resp, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil || resp.GetStatus() != want {
		t.Errorf("health of %q: %v, %v; want %v", service, resp.GetStatus(), err, want)
	}
}

// awaitHealth reads the watch until it reports want, within healthTimeout.
func awaitHealth(t *testing.T, watch healthpb.Health_WatchClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		for {
			resp, err := watch.Recv()
			if err != nil || resp.GetStatus() == want {
				got <- err
				return
			}
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("health watch, waiting for %v: %v", want, err)
		}
	case <-time.After(healthTimeout):
		t.Fatalf("health is not %v within %v", want, healthTimeout)
	}
}

// awaitReadyz polls url until it answers code, within healthTimeout. The health watch has seen
// the change already, so the first answer is normally the one.
func awaitReadyz(t *testing.T, url string, code int) {
	t.Helper()
	deadline := time.Now().Add(healthTimeout)
	tick := time.NewTicker(healthInterval / 2)
	defer tick.Stop()
	for {
		got, body, err := get(t, http.MethodGet, url)
		if err == nil && got == code {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answers %d %q (%v), want %d within %v", url, got, body, err, code, healthTimeout)
		}
		<-tick.C
	}
}
