package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"

	"github.com/tally-dev/tally/internal/telemetry"
)

// The document the prober reads, in a read-only transaction. It is never written, so the read
// answers NotFound, which proves Firestore reachable as well as a found document would, at the
// cost of one read. The transaction is what every call of tally's needs: a store that still
// answers plain reads but refuses transactions (the embedded emulator's, once a write to its disk
// failed) serves no call, and must not be reported SERVING. It lies outside
// the collections the store uses (shard/layout.go), so that it can never be a counter; a counter
// id of the reserved form __.*__ cannot be used instead, as Firestore refuses to read one.
const (
	probeCollection = "tally_health"
	probeDocument   = "probe"
)

// maxProbeTimeout bounds one probe: a read that takes longer than this is as good as failed for
// a load balancer deciding where to send calls.
const maxProbeTimeout = 2 * time.Second

// servedServices are the services whose health the prober sets: the server as a whole ("") and
// the counter service.
var servedServices = []string{"", tallyv1.CounterService_ServiceDesc.ServiceName}

// livenessService is the health service a liveness check asks about (the Terraform module's
// Cloud Run liveness probe does): SERVING from the start as long as the process serves gRPC,
// whatever Firestore does. The prober never sets it, so that an outage of Firestore, which
// turns the services above NOT_SERVING, restarts no instance: a restart would drop the calls
// an instance holds and find Firestore no more reachable. Like every service it turns
// NOT_SERVING when a shutdown begins (health.Server.Shutdown), when the instance is going away
// anyway.
const livenessService = "liveness"

// newHealthServer is the gRPC health server with every service tallyd reports: "" SERVING until
// the first probe says otherwise (as health.NewServer starts it), and livenessService SERVING.
func newHealthServer() *health.Server {
	h := health.NewServer()
	h.SetServingStatus(livenessService, healthpb.HealthCheckResponse_SERVING)
	return h
}

// prober keeps the gRPC health status in step with Firestore's reachability: SERVING while a
// cheap read succeeds, NOT_SERVING while it fails. After health.Server.Shutdown (at the start of
// a shutdown) the status stays NOT_SERVING whatever the prober sets.
type prober struct {
	client   *firestore.Client
	doc      *firestore.DocumentRef
	health   *health.Server
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	reachable bool // the last probe's outcome; only the probing goroutine touches it
	probed    bool // whether there was a probe yet
}

func newProber(client *firestore.Client, h *health.Server, interval time.Duration, log *slog.Logger) *prober {
	return &prober{
		client:   client,
		doc:      client.Collection(probeCollection).Doc(probeDocument),
		health:   h,
		interval: interval,
		timeout:  min(interval, maxProbeTimeout),
		log:      log,
	}
}

// probe reads the probe document once, in a read-only transaction, and sets the health status
// from the outcome, logging when reachability changes.
func (p *prober) probe(ctx context.Context) {
	readCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	// Untraced: a probe every few seconds per replica would be a trace of its own each time.
	err := p.client.RunTransaction(telemetry.Untraced(readCtx), func(ctx context.Context, tx *firestore.Transaction) error {
		_, err := tx.Get(p.doc)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	}, firestore.ReadOnly, firestore.MaxAttempts(1))
	if ctx.Err() != nil {
		return // stopped: the failed read says nothing about Firestore
	}
	reachable := err == nil
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if reachable {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for _, s := range servedServices {
		p.health.SetServingStatus(s, st)
	}
	switch {
	case !reachable && (p.reachable || !p.probed):
		p.log.Warn("Firestore is unreachable: health is NOT_SERVING until it answers again", "err", err, "probe_timeout", p.timeout)
	case reachable && !p.reachable && p.probed:
		p.log.Info("Firestore is reachable again: health is SERVING")
	}
	p.reachable, p.probed = reachable, true
}

// start probes every interval on a goroutine of its own until stop is called; stop returns once
// the goroutine has ended, so that the Firestore client can be closed after it.
func (p *prober) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(p.interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				p.probe(ctx)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
