package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// benchLoad is one run of calls: callers taking turns from a schedule,
// each call recorded, and each counter's acknowledged increments counted.
type benchLoad struct {
	cfg     benchConfig
	clients []tallyv1.CounterServiceClient // one per connection
	names   []string                       // the counters' full names
	picker  *counterPicker
	rec     *recorder
	keyBase string // unique to the run, so that its keys are fresh

	issued atomic.Int64 // calls handed out by next

	// Per counter, what the final check needs.
	ackedN   []atomic.Int64 // increments acknowledged
	ackedSum []atomic.Int64 // the sum of their deltas
	unknownN []atomic.Int64 // increments that failed and may have been applied
}

func newBenchLoad(cfg benchConfig, clients []tallyv1.CounterServiceClient, names []string) *benchLoad {
	return &benchLoad{
		cfg: cfg, clients: clients, names: names,
		picker:   newCounterPicker(len(names), cfg.zipf, cfg.zipfS),
		keyBase:  cfg.prefix + "-" + randomHex(8) + "-",
		ackedN:   make([]atomic.Int64, len(names)),
		ackedSum: make([]atomic.Int64, len(names)),
		unknownN: make([]atomic.Int64, len(names)),
	}
}

// run starts the callers at rec's start and records their calls in rec; it
// returns when every caller has finished. New calls start until the
// duration is over, the count is started or ctx is done; the calls begun by
// then may take --grace longer, retrying keyed increments, and are
// cancelled after that.
func (l *benchLoad) run(ctx context.Context, rec *recorder) {
	l.rec = rec
	loadCtx := ctx
	if l.cfg.duration > 0 {
		var cancel context.CancelFunc
		loadCtx, cancel = context.WithDeadline(ctx, rec.start.Add(l.cfg.duration))
		defer cancel()
	}
	// The calls outlive an interrupt by the grace period, so that the
	// check can count what they did.
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	var graceOnce sync.Once
	var graceTimer *time.Timer
	startGrace := func() { graceOnce.Do(func() { graceTimer = time.AfterFunc(l.cfg.grace, cancelCalls) }) }
	stopWatching := context.AfterFunc(loadCtx, startGrace)
	defer func() {
		stopWatching()
		graceOnce.Do(func() {}) // no timer after this
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()

	seed := rand.Uint64()
	var wg sync.WaitGroup
	for w := range l.cfg.clients {
		wg.Go(func() {
			c := caller{load: l, w: w, client: l.clients[w%len(l.clients)], rng: rand.New(rand.NewPCG(seed, uint64(w)))}
			c.loop(loadCtx, callCtx, startGrace)
		})
	}
	wg.Wait()
}

// next waits for the time the next call is due and returns it: now in a
// closed loop, its place in the schedule with --rate. It returns false when
// no more calls are to be started. It calls last when it hands out the
// last call of --count.
func (l *benchLoad) next(ctx context.Context, last func()) (time.Time, bool) {
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	n := l.issued.Add(1) - 1
	if l.cfg.count > 0 && n >= l.cfg.count {
		return time.Time{}, false
	}
	due := time.Now()
	if l.cfg.rate > 0 {
		due = l.rec.start.Add(time.Duration(float64(n) / l.cfg.rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return time.Time{}, false
			case <-t.C:
			}
		}
	}
	if n == l.cfg.count-1 {
		last()
	}
	return due, true
}

// caller is one of the concurrent callers.
type caller struct {
	load   *benchLoad
	w      int
	client tallyv1.CounterServiceClient
	rng    *rand.Rand
	seq    int
}

func (c *caller) loop(loadCtx, callCtx context.Context, last func()) {
	l := c.load
	for {
		due, ok := l.next(loadCtx, last)
		if !ok {
			return
		}
		i := l.picker.pick(c.rng)
		if l.cfg.readRatio > 0 && c.rng.Float64() < l.cfg.readRatio {
			c.read(callCtx, i, due)
		} else {
			c.increment(callCtx, i, due)
		}
	}
}

// read reads counter i. With --rate its latency counts from when it was
// due, so that a server falling behind shows in it.
func (c *caller) read(ctx context.Context, i int, due time.Time) {
	_, err := c.client.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: c.load.names[i]})
	c.load.rec.record(opRead, due, time.Now(), callCode(ctx, err), false)
}

// increment adds the delta to counter i. A keyed increment that fails is
// retried with its key until it is acknowledged, it fails for good, or the
// calls are cancelled.
func (c *caller) increment(ctx context.Context, i int, due time.Time) {
	l := c.load
	req := &tallyv1.IncrementRequest{Name: l.names[i], Delta: l.cfg.delta}
	if l.cfg.keys {
		c.seq++
		req.IdempotencyKey = l.keyBase + strconv.Itoa(c.w) + "-" + strconv.Itoa(c.seq)
	}
	mayHaveApplied := false
	started := due
	for attempt := 0; ; attempt++ {
		_, err := c.client.Increment(ctx, req)
		code := callCode(ctx, err)
		end := time.Now()
		l.rec.record(opIncrement, started, end, code, attempt > 0)
		if err == nil {
			if l.cfg.keys {
				l.rec.acknowledged(due, end)
			}
			l.ackedN[i].Add(1)
			l.ackedSum[i].Add(req.Delta)
			return
		}
		if !surelyNotApplied(err, code) {
			mayHaveApplied = true
		}
		if !l.cfg.keys || !retryable(code) || !backoff(ctx, attempt, c.rng) {
			if mayHaveApplied {
				l.unknownN[i].Add(1)
			}
			return
		}
		started = time.Now()
	}
}

// callCode returns the gRPC code of a call's outcome. A call cut short by
// ctx has the code of ctx's error.
func callCode(ctx context.Context, err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Code()
	}
	return status.Code(err)
}

// surelyNotApplied reports whether a failed increment is known to have
// changed nothing: it never reached the server, or the server's answer says
// so (counter.proto's errors). Any other failure may have been applied.
func surelyNotApplied(err error, code codes.Code) bool {
	var unreachable *unreachableError
	if errors.As(err, &unreachable) {
		return true
	}
	switch code {
	case codes.ResourceExhausted, codes.Aborted, codes.InvalidArgument, codes.OutOfRange,
		codes.FailedPrecondition, codes.PermissionDenied, codes.Unauthenticated,
		codes.Unimplemented, codes.NotFound, codes.AlreadyExists:
		return true
	}
	return false
}

// retryable reports whether a failed call may succeed when repeated.
func retryable(code codes.Code) bool {
	switch code {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded,
		codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// backoff waits before retry number attempt+1: exponentially longer, from
// about 5ms to 500ms, with jitter. It returns false if ctx ends first.
func backoff(ctx context.Context, attempt int, rng *rand.Rand) bool {
	d := min(5*time.Millisecond<<min(attempt, 10), 500*time.Millisecond)
	d = d/2 + time.Duration(rng.Int64N(int64(d/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
