package main

import (
	"sync"
	"time"

	"google.golang.org/grpc/codes"
)

// benchOp is the kind of a bench call.
type benchOp int

const (
	opIncrement benchOp = iota
	opRead
	benchOps
)

func (o benchOp) String() string {
	if o == opRead {
		return "reads"
	}
	return "increments"
}

// opStats are the calls of one kind over the whole run.
type opStats struct {
	// latency is of the successful calls only: failures, often answered at
	// once (UNAVAILABLE from a server that is down), would pull it down.
	// They are counted by code instead.
	latency histogram
	// toAck is, for keyed increments, the time from an increment's first
	// attempt to its acknowledgement, retries and backoff included, which
	// latency (per attempt) does not show.
	toAck   histogram
	calls   uint64 // answered, with or without an error
	ok      uint64
	retries uint64 // calls that repeated an earlier one with its idempotency key
	errors  map[codes.Code]uint64
}

func (s *opStats) failed() uint64 { return s.calls - s.ok }

// window is what a span of time saw, of every kind of call.
type window struct {
	latency    histogram // of the successful calls
	ok, errors uint64
}

func (w *window) add(d time.Duration, ok bool) {
	if ok {
		w.latency.record(d)
		w.ok++
	} else {
		w.errors++
	}
}

// benchSecond is one second of the run, for the chart.
type benchSecond struct {
	start, length time.Duration // since the start of the run
	ok, errors    uint64
	p99           time.Duration
}

// recorder collects the latency and outcome of every call: totals per kind,
// a window that the progress line takes and empties, and one window per
// second of the run. A call belongs to the second in which it was answered.
// It is safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	ops      [benchOps]opStats
	progress window
	second   window
	secondAt int    // index of the second being filled
	previous window // the second closed last, which a short last one joins
	seconds  []benchSecond
	finished bool
}

// minLastSecond is the shortest last partial second that stands on its own
// in the seconds. A shorter one joins the second before it: its few calls
// divided by its few milliseconds would be a rate far off the run's (16
// calls in 6ms read as 2,637 calls/s), and would stretch the chart's axis.
const minLastSecond = 500 * time.Millisecond

func newRecorder(start time.Time) *recorder {
	r := &recorder{start: start}
	for i := range r.ops {
		r.ops[i].errors = map[codes.Code]uint64{}
	}
	return r
}

// record adds a call of kind op made from started to end; code is OK for a
// success. retry marks a call repeating an earlier one.
func (r *recorder) record(op benchOp, started, end time.Time, code codes.Code, retry bool) {
	d := end.Sub(started)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.ops[op]
	s.calls++
	if retry {
		s.retries++
	}
	ok := code == codes.OK
	if ok {
		s.latency.record(d)
		s.ok++
	} else {
		s.errors[code]++
	}
	r.progress.add(d, ok)
	if !r.finished {
		r.advance(int(max(end.Sub(r.start), 0) / time.Second))
	}
	r.second.add(d, ok)
}

// acknowledged adds the time a keyed increment took from its first attempt,
// started, to its acknowledgement at end.
func (r *recorder) acknowledged(started, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops[opIncrement].toAck.record(end.Sub(started))
}

// advance closes the seconds before second at, including any in which no
// call was answered.
func (r *recorder) advance(at int) {
	for r.secondAt < at {
		r.closeSecond(time.Second)
		r.secondAt++
	}
}

func (r *recorder) closeSecond(length time.Duration) {
	r.seconds = append(r.seconds, benchSecond{
		start: time.Duration(r.secondAt) * time.Second, length: length,
		ok: r.second.ok, errors: r.second.errors, p99: r.second.latency.quantile(0.99),
	})
	r.previous = r.second
	r.second = window{}
}

// takeProgress returns and empties the progress window.
func (r *recorder) takeProgress() window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.progress
	r.progress = window{}
	return w
}

// finish closes the last second, a partial one, at end, and returns the
// seconds. A last second shorter than minLastSecond joins the one before
// it, if there is one. Calls recorded later count in the totals only.
func (r *recorder) finish(end time.Time) []benchSecond {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.finished {
		elapsed := max(end.Sub(r.start), 0)
		r.advance(int(elapsed / time.Second))
		rest := elapsed - time.Duration(r.secondAt)*time.Second
		switch {
		case rest < minLastSecond && len(r.seconds) > 0:
			r.joinPrevious(rest)
		case rest > 0 || r.second.ok+r.second.errors > 0:
			r.closeSecond(max(rest, time.Millisecond))
		}
		r.finished = true
	}
	return append([]benchSecond(nil), r.seconds...)
}

// joinPrevious adds the second being filled, rest long, to the last closed
// one.
func (r *recorder) joinPrevious(rest time.Duration) {
	last := &r.seconds[len(r.seconds)-1]
	r.previous.latency.merge(&r.second.latency)
	r.previous.ok += r.second.ok
	r.previous.errors += r.second.errors
	last.length += rest
	last.ok, last.errors, last.p99 = r.previous.ok, r.previous.errors, r.previous.latency.quantile(0.99)
	r.second = window{}
}

// totals returns a copy of the statistics of op.
func (r *recorder) totals(op benchOp) opStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	s.errors = make(map[codes.Code]uint64, len(r.ops[op].errors))
	for c, n := range r.ops[op].errors {
		s.errors[c] = n
	}
	return s
}
