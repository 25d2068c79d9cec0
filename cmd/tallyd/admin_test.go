package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// httpTimeout bounds every admin request of a test.
const httpTimeout = 10 * time.Second

// get requests url and returns the status code and body; a failed request is code 0.
func get(t *testing.T, method, url string) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// wantGet checks the status code of a request and that the body contains want.
func wantGet(t *testing.T, method, url string, code int, want string) {
	t.Helper()
	got, body, err := get(t, method, url)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if got != code || !strings.Contains(body, want) {
		t.Fatalf("%s %s: %d %q, want %d with %q", method, url, got, body, code, want)
	}
}

// TestAdminEndpoints: /healthz and /readyz answer 200 while tallyd serves, /metrics says that no
// metrics are configured; during a shutdown /readyz answers 503 while /healthz still answers 200,
// and after it the listener is closed.
func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "", "--admin-addr", "127.0.0.1:0")
	if srv.admin == "" {
		t.Fatal("tallyd did not report its admin address")
	}
	base := "http://" + srv.admin
	wantGet(t, http.MethodGet, base+"/healthz", http.StatusOK, "ok")
	wantGet(t, http.MethodGet, base+"/readyz", http.StatusOK, "ok")
	wantGet(t, http.MethodHead, base+"/readyz", http.StatusOK, "")
	if code, body, err := get(t, http.MethodGet, base+"/metrics"); err != nil || code != http.StatusOK || !strings.Contains(body, "tally_") {
		t.Errorf("/metrics: %d, %v, %.200q", code, err, body)
	}
	wantGet(t, http.MethodPost, base+"/healthz", http.StatusMethodNotAllowed, "")
	wantGet(t, http.MethodGet, base+"/", http.StatusNotFound, "")

	// A health Watch holds the shutdown open (it waits for the calls to end): in the meantime
	// the health is NOT_SERVING, and the admin listener says so.
	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	watchCtx, endWatch := context.WithTimeout(t.Context(), 30*time.Second)
	defer endWatch()
	watch, err := healthpb.NewHealthClient(conn).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch: %v, %v", resp, err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop() }()
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health watch during shutdown: %v, %v, want NOT_SERVING", resp, err)
	}
	wantGet(t, http.MethodGet, base+"/readyz", http.StatusServiceUnavailable, "not ready")
	wantGet(t, http.MethodGet, base+"/healthz", http.StatusOK, "ok")
	endWatch()
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if code, _, err := get(t, http.MethodGet, base+"/healthz"); err == nil {
		t.Fatalf("the admin listener answers %d after shutdown", code)
	}
}

// TestAdminListenerOff: --admin-addr= serves no admin listener, and an admin address that is
// taken fails the start.
func TestAdminListenerOff(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "") // with --admin-addr=
	if srv.admin != "" {
		t.Fatalf("an admin listener on %s although disabled", srv.admin)
	}
	taken := startTallyd(t, "", "--admin-addr", "127.0.0.1:0")
	err := run(t.Context(), []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--admin-addr", taken.admin}, envMap(nil), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--admin-addr") {
		t.Fatalf("run on a taken admin address: %v, want an error naming --admin-addr", err)
	}
}
