package main

import (
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testload"
	"github.com/tally-dev/tally/internal/testlog"
	"github.com/tally-dev/tally/internal/testnet"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestShutdownAnswersEveryCallTruthfully stops tallyd while many clients increment one counter.
// Every call must either succeed or fail with an answer that says nothing was applied; after a
// restart on the same data the value must be exactly the number of successes: no call reported
// failed whose increment was applied, none reported OK and lost.
func TestShutdownAnswersEveryCallTruthfully(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout string // --shutdown-timeout
	}{
		{name: "default timeout", timeout: "30s"},
		// Under load the store cannot drain in a millisecond: the callers still waiting must get
		// their real answers in the grace after it rather than be cut off while their increments
		// commit.
		{name: "drain overruns its budget", timeout: "1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := startTallyd(t, dir, "--shutdown-timeout", tt.timeout)
			const connections, clients = 4, 64
			conns := make([]tallyv1.CounterServiceClient, connections)
			for i := range conns {
				conns[i] = dial(t, srv.addr)
			}
			var succeeded, refused atomic.Int64
			acks := make(chan struct{}, 1<<16)
			load := testload.Start(clients, func(client int) bool {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				var reached peer.Peer
				_, err := conns[client%connections].Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/s", Delta: 1}, grpc.Peer(&reached))
				cancel()
				if err != nil {
					if nothingApplied(err, &reached) {
						refused.Add(1)
					} else {
						t.Errorf("a call failed without saying that nothing was applied: %v", err)
					}
					return false // the server is going away
				}
				succeeded.Add(1)
				select {
				case acks <- struct{}{}:
				default:
				}
				return true
			})
			// Stop mid-load: once the counter is busy, with calls queued and committing.
			for range 500 {
				<-acks
			}
			if err := srv.stop(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			<-load.Done() // every client has met the stopped server
			again := startTallyd(t, dir)
			got := value(t, dial(t, again.addr), "s")
			t.Logf("%d calls succeeded, %d were refused", succeeded.Load(), refused.Load())
			if got != succeeded.Load() {
				t.Fatalf("after restart: value %d, but %d calls succeeded", got, succeeded.Load())
			}
		})
	}
}

// nothingApplied reports whether a failed call's answer says that its increment was not applied:
// the store refused it because it was closing, or the call never reached a server (its stream
// was refused or no connection could be made), which the missing peer shows.
func nothingApplied(err error, reached *peer.Peer) bool {
	if status.Code(err) != codes.Unavailable {
		return false
	}
	return reached.Addr == nil || strings.Contains(status.Convert(err).Message(), "nothing was applied")
}

// TestShutdownWithinBudgetWhenCollectorHangs: with an OTLP collector that accepts connections
// but never answers, and a client holding an admin connection open without a request, tallyd
// still exits within its shutdown budget: the telemetry flush and the admin listener's shutdown
// are cut short, and say so. Not parallel: the OTLP exporters read their endpoint from the
// process's environment.
//
// The deadline it allows is the budget plus a generous slack, since timing is the machine's: it
// catches a phase that is not bounded at all (a flush without a deadline fails it), not a budget
// grown by a few seconds. That the budget's phases add up to less than Cloud Run's 10 s is
// TestTerraformEnvMatchesFlags's check, from the constants.
func TestShutdownWithinBudgetWhenCollectorHangs(t *testing.T) {
	collector := testnet.SilentListener(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + collector.Addr().String(),
		// Nothing is exported before the shutdown's flush, which must then send it all.
		"OTEL_METRIC_EXPORT_INTERVAL": "3600000",
		"OTEL_BSP_SCHEDULE_DELAY":     "3600000",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	const drain = time.Second
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	args := []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-timeout", drain.String()}
	go func() { done <- run(ctx, args, envMap(env), io.Discard, logs, ready) }()
	var at listening
	select {
	case at = <-ready:
	case err := <-done:
		t.Fatalf("tallyd exited: %v", err)
	}
	// A span and metrics to flush.
	if _, err := dial(t, at.grpc).Increment(t.Context(), &tallyv1.IncrementRequest{Name: "counters/c", Delta: 1}); err != nil {
		t.Fatal(err)
	}
	idle, err := net.Dial("tcp", at.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	cancel()
	// Generous: the budget plus slack for a loaded machine. Without the bounds the flush alone
	// would wait for the collector forever.
	limit := shutdownBudget(drain) + 10*time.Second
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("tallyd had not exited %s after its shutdown began; its budget is %s. Its log:\n%s", limit, shutdownBudget(drain), logs.String())
	}
	for _, want := range []string{"telemetry flush cut short", "closing the admin listener: a request or connection was still open"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}
