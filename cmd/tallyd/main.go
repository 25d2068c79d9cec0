// Command tallyd serves the tally counter API over gRPC, with health checking and server
// reflection, storing counters in Firestore: an embedded durable emulator by default, an external
// emulator, or Cloud Firestore. An admin HTTP listener serves /healthz, /readyz and /metrics.
// Every option is a flag and a TALLY_* environment variable (docs/operations.md lists them).
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

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tally-dev/tally/internal/telemetry"
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

// listening is where a started tallyd serves: gRPC, and the admin listener ("" when disabled).
type listening struct {
	grpc, admin string
}

// run serves until ctx ends, then shuts down gracefully (see shutdown): it stops accepting
// calls, commits whatever the coalescer holds and answers the calls in flight, and only then
// closes storage. ready, if set, receives the listening addresses once the server serves.
func run(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, ready chan<- listening) error {
	cfg, err := parseConfig(args, env, stderr)
	if err != nil {
		return err
	}
	log := slog.New(telemetry.NewLogHandler(newLogger(cfg, stderr, isTerminal(stderr)).Handler()))
	tel, err := telemetry.Setup(ctx, telemetryOptions(env))
	if err != nil {
		return fmt.Errorf("setting up telemetry: %w", err)
	}
	// The last phase of the exit (see shutdownBudget): the admin listener, whose shutdown
	// began before storage closed, and the telemetry flush share exitTimeout.
	var adminClosed <-chan error
	defer func() {
		flushTelemetry(tel, log.With("component", "telemetry"))
		if adminClosed == nil {
			return
		}
		switch err := <-adminClosed; {
		case errors.Is(err, errAdminCutOff):
			log.Warn("closing the admin listener: a request or connection was still open", "err", err)
		case err != nil:
			log.Error("closing the admin listener", "err", err)
		}
	}()
	log.Info("configuration", configAttrs(cfg)...)
	logTelemetryErrors(log.With("component", "telemetry"))
	authn, creds, err := setupAuth(ctx, cfg, log.With("component", "auth"))
	if err != nil {
		return err
	}
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}

	client, closeStorage, err := openFirestore(ctx, cfg, log, grpc.WithStatsHandler(tel.ClientStatsHandler()))
	if err != nil {
		return fmt.Errorf("opening %s storage: %w", cfg.Storage, err)
	}
	defer func() {
		if err := closeStorage(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()
	counters, err := shard.New(client, shard.Options{
		DefaultShards:      cfg.DefaultShards,
		KeyRetention:       cfg.KeyRetention,
		MaxBatch:           cfg.MaxBatch,
		MaxInFlight:        cfg.MaxInFlight,
		WatchInterval:      cfg.WatchInterval,
		MinWatchInterval:   cfg.MinWatchInterval,
		MaxWatchedCounters: cfg.MaxWatchedCounters,
		AdaptiveMinShards:  cfg.AdaptiveMinShards,
		AdaptiveMaxShards:  cfg.AdaptiveMaxShards,
		AdaptiveStep:       cfg.AdaptiveStep,
		AdaptiveWindow:     cfg.AdaptiveWindow,
		AdaptiveCooldown:   cfg.AdaptiveCooldown,
		Logger:             log.With("component", "shard"),
		TracerProvider:     tel.TracerProvider(),
		MeterProvider:      tel.MeterProvider(),
	})
	if err != nil {
		return fmt.Errorf("creating the counter store: %w", err)
	}

	calls := &openCalls{}
	limit := newLimiter(cfg.MaxConcurrentCalls, tel.Shed)
	gs := newGRPCServer(cfg, limit, calls, append(creds,
		grpc.StatsHandler(tel.ServerStatsHandler()),
		grpc.ChainUnaryInterceptor(authn.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(authn.StreamInterceptor()))...)
	tallyv1.RegisterCounterServiceServer(gs, service.New(service.Options{
		Counters:      counters,
		Logger:        log,
		MaxBatchNames: cfg.MaxBatchNames,
		OnShed:        shedFor(tel.Shed, telemetry.ShedReasonWatchedCounters),
	}))
	healthSrv := newHealthServer()
	healthpb.RegisterHealthServer(gs, healthSrv)
	reflection.Register(gs)

	// The first probe runs before tallyd announces that it serves, so that its health is true
	// from the first check; a Firestore unreachable at start leaves it NOT_SERVING until a later
	// probe reaches it.
	probe := newProber(client, healthSrv, cfg.HealthInterval, log.With("component", "health"))
	probe.probe(ctx)
	stopProbing := probe.start(ctx)
	defer stopProbing()

	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	if err := checkListenerLoopback(cfg, lis.Addr()); err != nil {
		return errors.Join(err, lis.Close())
	}
	var admin *adminServer
	adminFailed := make(<-chan error) // never fires while the admin listener is disabled
	if cfg.AdminAddr != "" {
		if admin, err = listenAdmin(ctx, cfg.AdminAddr, adminHandler(healthSrv, tel.MetricsHandler()), log); err != nil {
			return errors.Join(err, lis.Close())
		}
		admin.serve()
		adminFailed = admin.served
		// Up during the drain and the grace, so that /readyz answers 503 while the calls in
		// flight finish; closed at the end, at the same time as the telemetry flush.
		defer func() { adminClosed = admin.startShutdown(exitTimeout) }()
		log.Info("admin listener serving /healthz, /readyz and /metrics", "admin_addr", admin.addr())
		fmt.Fprintf(stdout, "tallyd admin on %s\n", admin.addr())
	}

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("tallyd serving", "addr", lis.Addr().String(), "storage", cfg.Storage)
	fmt.Fprintf(stdout, "tallyd serving on %s\n", lis.Addr())
	if ready != nil {
		at := listening{grpc: lis.Addr().String()}
		if admin != nil {
			at.admin = admin.addr()
		}
		ready <- at
	}

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case err := <-adminFailed:
		// The calls in flight still get the graceful shutdown: their increments are committed
		// and answered before storage closes.
		log.Error("the admin listener failed; shutting down", "err", err)
		stopProbing()
		return errors.Join(fmt.Errorf("serving the admin listener: %w", err),
			shutdown(gs, healthSrv, counters, calls, cfg.ShutdownTimeout, log))
	case <-ctx.Done():
	}
	log.Info("shutting down: refusing new calls, committing and answering the calls in flight")
	stopProbing()
	if err := shutdown(gs, healthSrv, counters, calls, cfg.ShutdownTimeout, log); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	st := counters.Stats()
	log.Info("shut down cleanly", "coalesced_commits", st.Commits, "coalesced_increments", st.Increments, "peak_lanes", st.PeakLanes, "shed_calls", limit.Shed(), "refused_watches", limit.RefusedWatches())
	return nil
}
