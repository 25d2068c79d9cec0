package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Timeouts of the admin listener: its answers are small and quick, so a client that is slower
// than this is stuck or hostile. Its shutdown has exitTimeout.
const (
	adminHeaderTimeout = 10 * time.Second
	adminIdleTimeout   = time.Minute
)

// adminHandler serves the admin endpoints: /healthz answers 200 while the process runs;
// /readyz answers 200 while the gRPC health status is SERVING (Firestore reachable, not shutting
// down) and 503 otherwise, so that an HTTP-only checker sees what a gRPC health check sees;
// /metrics is the metrics handler.
func adminHandler(h *health.Server, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		resp, err := h.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if st := resp.GetStatus(); err != nil || st != healthpb.HealthCheckResponse_SERVING {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: health is %s (Firestore unreachable, or shutting down)\n", st)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", metrics)
	return mux
}

// adminServer is the admin HTTP listener.
type adminServer struct {
	srv    *http.Server
	lis    net.Listener
	served chan error // Serve's error, other than http.ErrServerClosed
}

// listenAdmin listens on addr; serve starts answering.
func listenAdmin(ctx context.Context, addr string, handler http.Handler, log *slog.Logger) (*adminServer, error) {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --admin-addr %s: %w", addr, err)
	}
	return &adminServer{
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: adminHeaderTimeout,
			IdleTimeout:       adminIdleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		lis:    lis,
		served: make(chan error, 1),
	}, nil
}

func (a *adminServer) addr() string { return a.lis.Addr().String() }

func (a *adminServer) serve() {
	go func() {
		if err := a.srv.Serve(a.lis); !errors.Is(err, http.ErrServerClosed) {
			a.served <- err
		}
	}()
}

// errAdminCutOff reports an admin shutdown that closed connections still open after its timeout.
var errAdminCutOff = errors.New("connections still open were closed")

// startShutdown closes the listener and lets the requests in progress finish for at most
// timeout, then closes every connection left, on a goroutine of its own. The channel receives
// the outcome: nil, errAdminCutOff (wrapped), or another error.
func (a *adminServer) startShutdown(timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := a.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("after %s: %w", timeout, errAdminCutOff)
		}
		if err != nil {
			err = errors.Join(err, a.srv.Close())
		}
		done <- err
	}()
	return done
}
