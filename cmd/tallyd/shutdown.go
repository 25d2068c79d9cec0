package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/tally-dev/tally/shard"
)

// answerGrace is how long the calls still open may take to send their answers once the store
// has drained (or its budget ran out), before the server cuts them off. A drained store has
// answered every queued increment, so what remains is writing responses: far less than this,
// unless a client stopped reading or holds a stream open (a health Watch does).
const answerGrace = 5 * time.Second

// exitTimeout bounds the last phase of a shutdown, once the calls are answered and the store has
// drained: closing the admin listener (its requests are small and quick) and flushing the spans
// and metrics buffered for OTLP, which run at the same time. Both normally take milliseconds; a
// client that holds an admin connection open, or a collector that accepts a connection but
// never answers, must not hold the exit past the shutdown's budget.
const exitTimeout = 500 * time.Millisecond

// shutdownBudget is the longest a shutdown takes, from its start (SIGTERM) to the exit, with
// --shutdown-timeout drain: the drain, the grace of the calls after it, and the last phase.
// Closing storage after the calls have ended is not bounded; the Firestore client closes its
// connection at once, and the embedded emulator has its data on local disk.
func shutdownBudget(drain time.Duration) time.Duration {
	return drain + answerGrace + exitTimeout
}

// shutdown stops serving and drains the store in the order that keeps every answer true.
//
// A caller cut off while its increment commits sees UNAVAILABLE although the increment may be
// applied, so cutting calls off comes last. Health turns NOT_SERVING first, so that load
// balancers send new calls elsewhere. Then, at the same time, the server stops taking calls
// (GracefulStop) and the store drains: it refuses new increments with shard.ErrClosed
// (UNAVAILABLE, nothing applied) and commits and answers every queued one, so the calls in
// flight get their real outcome. The drain has the budget drain; after it (or as soon as the
// store has drained) the calls have answerGrace to finish, and only then are the rest cut off,
// with a log of what was cut. It fails if the store had not drained by then.
func shutdown(gs *grpc.Server, healthSrv *health.Server, counters *shard.Counters, calls *openCalls, drain time.Duration, log *slog.Logger) error {
	healthSrv.Shutdown()
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	// Close runs until the store has drained; its context ends only when shutdown gives up on
	// it, so that commits still running after the drain budget can finish during the grace.
	closeCtx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	closed := make(chan error, 1)
	go func() { closed <- counters.Close(closeCtx) }()

	drained := false
	budget := time.NewTimer(drain)
	defer budget.Stop()
	select {
	case <-closed: // nil: closeCtx has not ended
		drained = true
	case <-budget.C:
		open, _ := calls.open()
		log.Warn("the store has not drained within the shutdown timeout; the calls in flight get a last grace",
			"timeout", drain, "grace", answerGrace, "open_calls", open)
	}

	callsDone := false
	grace := time.NewTimer(answerGrace)
	defer grace.Stop()
wait:
	for !drained || !callsDone {
		select {
		case <-closed:
			drained = true
		case <-stopped:
			callsDone = true
			stopped = nil // closed: it would fire again
		case <-grace.C:
			break wait
		}
	}
	if !callsDone {
		open, n := calls.open()
		log.Warn("cutting off the calls still open after the grace; an increment among them may be applied although its caller sees UNAVAILABLE",
			"grace", answerGrace, "calls", n, "open_calls", open)
		gs.Stop()
		<-stopped
	}
	if !drained {
		giveUp()
		if err := <-closed; err != nil {
			return fmt.Errorf("flushing queued increments: still committing %s after shutdown began: %w", drain+answerGrace, err)
		}
	}
	return nil
}
