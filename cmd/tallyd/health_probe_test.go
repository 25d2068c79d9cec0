package main

import (
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
)

// TestProbeNeedsTransactions: a Firestore that still answers plain reads but refuses to begin
// transactions, as the embedded emulator does once a write to its disk failed, serves no call of
// tally's, so the probe reports it NOT_SERVING; SERVING again once transactions begin. The
// liveness service stays SERVING throughout: the probe never touches it.
func TestProbeNeedsTransactions(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	in := faultinject.New()
	client := faultinject.NewClient(t, em.Addr(), replicaProject, in)
	h := newHealthServer()
	p := newProber(client, h, time.Second, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	statusOf := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	status := func() healthpb.HealthCheckResponse_ServingStatus { t.Helper(); return statusOf(servedServices[1]) }

	p.probe(ctx)
	if got := status(); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("with Firestore healthy: %v, want SERVING", got)
	}

	refuse := in.Arm(faultinject.Fault{Method: faultinject.BeginTransaction, Action: faultinject.FailBefore, Code: codes.Internal, Times: -1})
	if _, err := client.Collection(probeCollection).Doc(probeDocument).Get(ctx); grpcstatus.Code(err) != codes.NotFound {
		t.Fatalf("a plain read while transactions are refused: %v; the test needs it to succeed", err)
	}
	p.probe(ctx)
	if got := status(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("with transactions refused: %v, want NOT_SERVING", got)
	}
	if got := statusOf(livenessService); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness with transactions refused: %v, want SERVING", got)
	}
	if refuse.Fired() == 0 {
		t.Errorf("the probe began no transaction")
	}

	refuse.Disarm()
	p.probe(ctx)
	if got := status(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("with transactions back: %v, want SERVING", got)
	}
}
