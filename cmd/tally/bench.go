package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func benchCommand() *command {
	return &command{
		name:    "bench",
		args:    "[--duration D | --count N] [FLAGS]",
		summary: "load the server with concurrent calls, then check every count",
		details: `Calls the server from --clients concurrent callers for --duration (10s by
default) or until --count calls are started, and prints the calls, errors,
successful calls per second and p50/p95/p99/max latency, for increments and
reads apart, and the errors by code. Then it checks that every counter holds
its value from before the run plus the acknowledged increments.

Before the run each counter is read, or created if it does not exist; the
default --prefix names fresh counters. Each call increments a counter or,
with --read-ratio, reads one; counters are chosen uniformly or, with --skew
zipf, counter 0 most often. With --keys (the default) every increment has a
fresh idempotency key and one that fails is retried with that key until it is
acknowledged, so that each counter's expected value is exact; retries come on
top of --count. Without keys nothing is retried and an increment that failed
may or may not have been applied: the check accepts any value in between.

Each caller waits for its answer before its next call (a closed loop) unless
--rate R starts R calls per second whatever the answers (an open loop); a
call's latency then counts from when it was due, so that a server falling
behind shows in it. A latency is exact to within 1%.

The latency is that of the successful calls; failures, often answered at
once, are counted by code instead. It times each attempt on its own, a retry
from when it was sent. With --keys a row "to ack" (time_to_ack_ms in --json)
shows, for the acknowledged increments, the time from the first attempt (with
--rate, from when it was due) to the acknowledgement, retries and their
backoff included.

A progress line on stderr shows, for each interval, the successful calls per
second, their p99 latency and the errors. The chart (--chart) and the JSON's
per_second show each second of the run; a last partial second shorter than
half a second joins the one before it, since a rate over a few milliseconds
says little. Interrupting the run stops it early; the results and the check
follow. The exit status is 1 if a counter does not hold what the check
expects.`,
		setup: func(fs *flag.FlagSet) action {
			f := newBenchFlags(fs)
			return func(ctx context.Context, s *session, args []string) error {
				if err := checkArgCount(args, 0); err != nil {
					return err
				}
				cfg, err := f.config()
				if err != nil {
					return err
				}
				cfg.json = cfg.json || s.out.json
				return runBench(ctx, s, cfg)
			}
		},
	}
}

// errCheckFailed is returned when a counter does not hold what the
// acknowledged increments add up to.
var errCheckFailed = errors.New("the check failed: a counter does not hold its initial value plus its acknowledged increments")

// runBench prepares the counters, runs the load, checks the counters and
// prints the result.
func runBench(ctx context.Context, s *session, cfg benchConfig) error {
	charted := false
	if cfg.chart != "" {
		// Fail before the run, not after it, if the chart cannot be written.
		f, err := os.Create(cfg.chart)
		if err != nil {
			return usageErrorf("--chart: %v", err)
		}
		f.Close()
		defer func() {
			if !charted {
				os.Remove(cfg.chart)
			}
		}()
	}
	clients, closeAll, err := benchClients(s, cfg.connections)
	if err != nil {
		return err
	}
	defer closeAll()

	names := make([]string, cfg.counters)
	for i := range names {
		names[i] = namePrefix + cfg.prefix + "-" + strconv.Itoa(i)
	}
	initial, err := initialValues(ctx, clients, names)
	if err != nil {
		return err
	}

	load := newBenchLoad(cfg, clients, names)
	rec := newRecorder(time.Now())
	stopProgress := startProgress(s.stderr, cfg.progress, rec)
	load.run(ctx, rec)
	elapsed := time.Since(rec.start)
	seconds := rec.finish(rec.start.Add(elapsed))
	stopProgress()
	interrupted := ctx.Err() != nil

	// The check runs after an interrupt too, with a deadline of its own.
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalReadTimeout)
	defer cancel()
	final, readErr := finalValues(readCtx, clients, names)
	var check benchCheck
	if readErr != nil {
		check = benchCheck{Message: "not done: " + readErr.Error()}
	} else {
		counters := make([]benchCounter, len(names))
		for i, name := range names {
			counters[i] = benchCounter{id: displayID(name), initial: initial[i],
				ackedN: load.ackedN[i].Load(), ackedSum: load.ackedSum[i].Load(), unknownN: load.unknownN[i].Load()}
		}
		check = checkBench(cfg.delta, counters, final)
	}

	result := newBenchResult(cfg, rec, elapsed, seconds, check)
	result.Interrupted = interrupted
	if cfg.json {
		err = result.writeJSON(s.out.w)
	} else {
		inc, reads := rec.totals(opIncrement), rec.totals(opRead)
		err = result.writeTable(s.out.w, &inc, &reads)
	}
	if err != nil {
		return err
	}
	if cfg.chart != "" {
		if err := writeChartFile(cfg.chart, benchTitle(cfg), seconds); err != nil {
			return err
		}
		charted = true
	}
	switch {
	case readErr != nil:
		return readErr
	case !check.OK:
		return errCheckFailed
	}
	return nil
}

// benchClients returns a client per connection: the session's, and more
// dialed with the same global flags.
func benchClients(s *session, connections int) ([]tallyv1.CounterServiceClient, func(), error) {
	clients := []tallyv1.CounterServiceClient{s.client}
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for len(clients) < connections {
		conn, err := dial(s.globals)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, conn.Close)
		clients = append(clients, tallyv1.NewCounterServiceClient(conn))
	}
	return clients, closeAll, nil
}

func benchTitle(cfg benchConfig) string {
	keys := "keys"
	if !cfg.keys {
		keys = "no keys"
	}
	return fmt.Sprintf("tally bench: %s, %s, %s, %g%% reads", plural(int64(cfg.clients), "client", "clients"),
		plural(int64(cfg.counters), "counter", "counters"), keys, cfg.readRatio*100)
}

func writeChartFile(path, title string, seconds []benchSecond) error {
	var b bytes.Buffer
	if err := writeBenchChart(&b, title, seconds); err != nil {
		return fmt.Errorf("drawing the chart: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	return nil
}
