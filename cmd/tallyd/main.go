// Command tallyd serves the tally counter API over gRPC, with health checking and server
// reflection, storing counters in Firestore: an embedded durable emulator by default, an external
// emulator, or Cloud Firestore. Every option is a flag and a TALLY_* environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/service"
	"github.com/tally-dev/tally/shard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "tallyd:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully (see shutdown): it stops accepting
// calls, commits whatever the coalescer holds and answers the calls in flight, and only then
// closes storage. ready, if set, receives the listening address once the server serves.
func run(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := parseConfig(args, env, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	log.Info("configuration", configAttrs(cfg)...)
	if err := refuseUnbuiltAuth(cfg); err != nil {
		return err
	}
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}

	client, closeStorage, err := openFirestore(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("opening %s storage: %w", cfg.Storage, err)
	}
	defer func() {
		if err := closeStorage(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()
	counters, err := shard.New(client, shard.Options{
		DefaultShards: cfg.DefaultShards,
		KeyRetention:  cfg.KeyRetention,
		MaxBatch:      cfg.MaxBatch,
		MaxInFlight:   cfg.MaxInFlight,
		Logger:        log.With("component", "shard"),
	})
	if err != nil {
		return fmt.Errorf("creating the counter store: %w", err)
	}

	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	calls := &openCalls{}
	limit := newLimiter(cfg.MaxConcurrentCalls)
	gs := newGRPCServer(cfg, limit, calls)
	tallyv1.RegisterCounterServiceServer(gs, service.New(service.Options{
		Counters:      counters,
		Logger:        log,
		MaxBatchNames: cfg.MaxBatchNames,
	}))
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(gs, healthSrv)
	reflection.Register(gs)
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthSrv.SetServingStatus(tallyv1.CounterService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("tallyd serving", "addr", lis.Addr().String(), "storage", cfg.Storage)
	fmt.Fprintf(stdout, "tallyd serving on %s\n", lis.Addr())
	if ready != nil {
		ready <- lis.Addr().String()
	}

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: refusing new calls, committing and answering the calls in flight")
	if err := shutdown(gs, healthSrv, counters, calls, cfg.ShutdownTimeout, log); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	st := counters.Stats()
	log.Info("shut down cleanly", "coalesced_commits", st.Commits, "coalesced_increments", st.Increments, "peak_lanes", st.PeakLanes, "shed_calls", limit.Shed())
	return nil
}

// refuseUnbuiltAuth refuses the flags of authentication and TLS while this build does not
// implement them: serving without the protection they ask for would be worse than not serving.
func refuseUnbuiltAuth(cfg *Config) error {
	for _, f := range []struct{ flag, value string }{
		{"tokens-file", cfg.TokensFile}, {"tls-cert", cfg.TLSCert}, {"client-ca", cfg.ClientCA},
	} {
		if f.value != "" {
			return fmt.Errorf("--%s: this build of tallyd does not implement authentication or TLS yet", f.flag)
		}
	}
	return nil
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
