package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testload"
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
