package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// startBenchTallyd starts tallyd with embedded storage in a temporary
// directory and returns its address.
func startBenchTallyd(t *testing.T) string {
	t.Helper()
	bin := testproc.Build(t, testproc.Tallyd)[0]
	return startTallyd(t, bin, nil, "--storage", "embedded", "--data-dir", t.TempDir()).Addr
}

// benchJSON runs `tally --addr addr bench --json args...` and decodes its
// result, failing the test on any other exit code than code.
func benchJSON(t *testing.T, addr string, code int, args ...string) (*benchResult, outcome) {
	t.Helper()
	got := runTally(context.Background(), append([]string{"--addr", addr, "bench", "--json", "--progress", "0"}, args...)...)
	if got.code != code {
		t.Fatalf("bench %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got.code, code, got.stdout, got.stderr)
	}
	return decodeBench(t, got.stdout), got
}

// benchFields are the fields of the JSON result that scripts may rely on.
var benchFields = []string{"calls", "check", "clients", "connections", "counters", "delta", "duration_seconds", "errors",
	"errors_by_code", "increments", "interrupted", "keys", "latency_ms", "ok", "per_second", "prefix", "rate", "read_ratio",
	"reads", "skew", "throughput", "zipf_s"}

// decodeBench parses the one line of JSON a run prints.
func decodeBench(t *testing.T, stdout string) *benchResult {
	t.Helper()
	if strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("--json printed %d lines, want one:\n%s", strings.Count(stdout, "\n"), stdout)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &fields); err != nil {
		t.Fatalf("the result is not JSON: %v\n%s", err, stdout)
	}
	for _, f := range benchFields {
		if _, ok := fields[f]; !ok && f != "zipf_s" {
			t.Errorf("the result lacks %q:\n%s", f, stdout)
		}
		delete(fields, f)
	}
	for f := range fields {
		t.Errorf("the result has the unexpected field %q", f)
	}
	var r benchResult
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decoding the result: %v\n%s", err, stdout)
	}
	return &r
}

// checkAgainstServer reads each counter of the run from the server and
// compares it with what the check reported.
func checkAgainstServer(t *testing.T, addr string, r *benchResult) {
	t.Helper()
	c := apiClient(t, addr)
	if len(r.Check.Counters) != r.Counters {
		t.Fatalf("the check has %d counters, the run %d", len(r.Check.Counters), r.Counters)
	}
	var acked int64
	for _, v := range r.Check.Counters {
		got, err := c.GetCounter(context.Background(), &tallyv1.GetCounterRequest{Name: namePrefix + v.ID})
		if err != nil {
			t.Fatalf("reading %s: %v", v.ID, err)
		}
		if got.GetValue() != v.Final {
			t.Errorf("counter %s is %d on the server, the check read %d", v.ID, got.GetValue(), v.Final)
		}
		if v.AckedSum != v.Acked*r.Delta {
			t.Errorf("counter %s: %d acknowledged increments of %d add up to %d", v.ID, v.Acked, r.Delta, v.AckedSum)
		}
		acked += v.Acked
	}
	if acked != int64(r.Increments.OK) {
		t.Errorf("the counters have %d acknowledged increments, the table %d", acked, r.Increments.OK)
	}
}

func checkLatencies(t *testing.T, what string, l latencySummary) {
	t.Helper()
	if !(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("%s latencies out of order or zero: %+v", what, l)
	}
}

func TestBench(t *testing.T) {
	t.Parallel()
	addr := startBenchTallyd(t)

	t.Run("a short run passes the check", func(t *testing.T) {
		r, _ := benchJSON(t, addr, exitOK, "--count", "500", "--clients", "6", "--counters", "3", "--skew", "zipf",
			"--read-ratio", "0.2", "--prefix", "short")
		if r.Calls != 500 || r.Errors != 0 || r.OK != 500 || r.Increments.OK+r.Reads.OK != 500 {
			t.Errorf("calls %d, ok %d, errors %d (by code %v), want 500 calls without errors", r.Calls, r.OK, r.Errors, r.ErrorsByCode)
		}
		// 20% of 500 is 100, give or take 9 (one standard deviation).
		if r.Reads.Calls < 50 || r.Reads.Calls > 150 {
			t.Errorf("%d reads of 500 calls, want about 100", r.Reads.Calls)
		}
		if !r.Check.OK || !strings.HasPrefix(r.Check.Message, "ok: 3 counters hold") {
			t.Errorf("check: %+v", r.Check)
		}
		checkAgainstServer(t, addr, r)
		for _, v := range r.Check.Counters {
			if v.Initial != 0 || v.Unknown != 0 || v.WantMin.Int64() != v.AckedSum || v.WantMax.Int64() != v.AckedSum || v.Final != v.AckedSum {
				t.Errorf("fresh counter %+v: want initial 0 and final = acknowledged", v)
			}
		}
		// Zipf: counter 0 gets about 55%, counter 2 about 18%.
		if c := r.Check.Counters; c[0].Acked <= c[2].Acked {
			t.Errorf("with zipf counter 0 got %d increments, counter 2 %d", c[0].Acked, c[2].Acked)
		}
		if r.Skew != "zipf" || r.ZipfS != 0.99 || r.Clients != 6 || r.Counters != 3 || !r.Keys || r.Prefix != "short" {
			t.Errorf("the result does not echo the flags: %+v", r)
		}
		checkLatencies(t, "increments", r.Increments.Latency)
		checkLatencies(t, "reads", r.Reads.Latency)
		checkLatencies(t, "all", r.Latency)
		if ack := r.Increments.TimeToAck; ack == nil {
			t.Errorf("no time to ack with keys")
		} else {
			checkLatencies(t, "time to ack", *ack)
		}
		var perSecond uint64
		for _, s := range r.PerSecond {
			perSecond += s.OK
		}
		if len(r.PerSecond) == 0 || perSecond != r.OK {
			t.Errorf("%d seconds with %d calls, want the %d calls", len(r.PerSecond), perSecond, r.OK)
		}
		if r.Throughput <= 0 || r.DurationSeconds <= 0 {
			t.Errorf("throughput %g over %gs", r.Throughput, r.DurationSeconds)
		}

		// Again on the same counters: they start from where the first run
		// left them.
		again, _ := benchJSON(t, addr, exitOK, "--count", "100", "--clients", "3", "--counters", "3", "--prefix", "short")
		for i, v := range again.Check.Counters {
			if v.Initial != r.Check.Counters[i].Final {
				t.Errorf("second run: counter %s started at %d, the first run left it at %d", v.ID, v.Initial, r.Check.Counters[i].Final)
			}
		}
		if !again.Check.OK {
			t.Errorf("second run: %s", again.Check.Message)
		}
		checkAgainstServer(t, addr, again)
	})

	t.Run("table, progress and chart", func(t *testing.T) {
		chart := filepath.Join(t.TempDir(), "run.svg")
		got := runTally(context.Background(), "--addr", addr, "bench", "--duration", "300ms", "--clients", "4",
			"--counters", "2", "--keys=false", "--progress", "50ms", "--chart", chart)
		if got.code != exitOK {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^tally bench: 4 clients over 1 connection, closed loop, 0\.[3-9]\d*s$`),
			regexp.MustCompile(`(?m)^2 counters bench-[0-9a-f]{8}-0\.\.1 \(uniform\), 0% reads, no keys, delta 1$`),
			regexp.MustCompile(`(?m)^ +CALLS +ERRORS +OK/S +P50 +P95 +P99 +MAX$`),
			regexp.MustCompile(`(?m)^ +increments +[1-9][\d,]* +0 +[1-9][\d,]* +[\d.]+(µs|ms) +[\d.]+(µs|ms) +[\d.]+(µs|ms) +[\d.]+(µs|ms)$`),
			regexp.MustCompile(`(?m)^ +reads +0 +0 +0 +- +- +- +-$`),
			regexp.MustCompile(`(?m)^latency: of the successful calls, each attempt timed on its own$`),
			regexp.MustCompile(`(?m)^errors: none$`),
			regexp.MustCompile(`(?m)^check: ok: 2 counters hold their initial values plus the [1-9][\d,]* acknowledged increments$`),
		} {
			if !want.MatchString(got.stdout) {
				t.Errorf("the table does not match %s:\n%s", want, got.stdout)
			}
		}
		// The run lasts 300ms: the 50ms progress line shows at least once.
		progress := regexp.MustCompile(`^ +\d+\.\ds  [\d,]+ calls/s  p99 (-|[\d.]+(µs|ms|s))  errors [\d,]+ \([\d,]+ in all\)$`)
		lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
		if got.stderr == "" {
			t.Errorf("no progress line")
		}
		for _, l := range lines {
			if !progress.MatchString(l) {
				t.Errorf("stderr line %q is no progress line", l)
			}
		}
		if strings.Contains(got.stdout, "to ack") {
			t.Errorf("a run without keys shows a time to ack:\n%s", got.stdout)
		}
		data, err := os.ReadFile(chart)
		if err != nil {
			t.Fatal(err)
		}
		svg := parseSVG(t, data)
		if svg.root.Local != "svg" || len(svg.polylines) != 2 || !strings.HasPrefix(svg.title, "tally bench: 4 clients, 2 counters, no keys") {
			t.Errorf("chart: root %v, %d polylines, title %q", svg.root, len(svg.polylines), svg.title)
		}
	})

	t.Run("connections", func(t *testing.T) {
		r, _ := benchJSON(t, addr, exitOK, "--count", "200", "--clients", "6", "--connections", "3")
		if r.Connections != 3 || r.OK != 200 || !r.Check.OK {
			t.Errorf("connections %d, ok %d, check %s", r.Connections, r.OK, r.Check.Message)
		}
	})

	t.Run("rate", func(t *testing.T) {
		// The 60th call is due 59/200 s after the start: a closed loop
		// would be done far sooner.
		r, _ := benchJSON(t, addr, exitOK, "--count", "60", "--clients", "4", "--rate", "200")
		if r.DurationSeconds < 0.295 || r.OK != 60 || !r.Check.OK {
			t.Errorf("60 calls at 200/s took %gs (want at least 0.295s), %d ok, check %s", r.DurationSeconds, r.OK, r.Check.Message)
		}
		if r.Rate != 200 {
			t.Errorf("rate %g, want 200", r.Rate)
		}
	})

	t.Run("an interrupted run is checked", func(t *testing.T) {
		got := benchUntilProgress(t, addr, "interrupted", func() {})
		r := decodeBench(t, got.stdout)
		if got.code != exitOK || !r.Interrupted || !r.Check.OK || r.Increments.OK == 0 {
			t.Errorf("exit code %d, interrupted %v, %d increments, check %s\nstderr:\n%s", got.code, r.Interrupted, r.Increments.OK, r.Check.Message, got.stderr)
		}
		checkAgainstServer(t, addr, r)
	})

	t.Run("an increment behind the bench's back is a mismatch", func(t *testing.T) {
		c := apiClient(t, addr)
		got := benchUntilProgress(t, addr, "meddled", func() {
			if _, err := c.Increment(context.Background(), &tallyv1.IncrementRequest{Name: "counters/meddled-0", Delta: 1000}); err != nil {
				t.Errorf("incrementing behind the bench's back: %v", err)
			}
		})
		if got.code != exitFailed {
			t.Errorf("exit code %d, want %d", got.code, exitFailed)
		}
		if !strings.HasSuffix(got.stderr, "tally: "+errCheckFailed.Error()+"\n") {
			t.Errorf("stderr does not end with the failed check:\n%s", got.stderr)
		}
		r := decodeBench(t, got.stdout)
		v := r.Check.Counters[0]
		if r.Check.OK || v.OK || v.Final != v.AckedSum+1000 {
			t.Errorf("check %+v, want counter 0 1000 above its %d acknowledged", r.Check, v.AckedSum)
		}
		if want := "MISMATCH in 1 of 1 counters: counter meddled-0 is "; !strings.HasPrefix(r.Check.Message, want) ||
			!strings.HasSuffix(r.Check.Message, ": 1000 off, more than acknowledged") {
			t.Errorf("check message %q", r.Check.Message)
		}
	})
}

// TestBenchUnreachable: nothing is run, and no chart is left behind.
func TestBenchUnreachable(t *testing.T) {
	addr := closedPort(t)
	chart := filepath.Join(t.TempDir(), "chart.svg")
	got := runTally(context.Background(), "--addr", addr, "bench", "--count", "10", "--chart", chart)
	if got.code != exitUnreachable || got.stdout != "" || !strings.HasPrefix(got.stderr, "tally: cannot reach the server at "+addr+": ") {
		t.Errorf("exit code %d, stdout %q, stderr %q; want %d and cannot reach the server", got.code, got.stdout, got.stderr, exitUnreachable)
	}
	if _, err := os.Stat(chart); !os.IsNotExist(err) {
		t.Errorf("the chart file was left behind: %v", err)
	}
}

// benchUntilProgress runs the bench on counter prefix-0 until its first
// progress line, calls during, and interrupts the run.
func benchUntilProgress(t *testing.T, addr, prefix string, during func()) outcome {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &firstWrite{wrote: make(chan struct{})}
	done := make(chan outcome, 1)
	go func() {
		var stdout bytes.Buffer
		code := run(ctx, []string{"--addr", addr, "bench", "--json", "--duration", "10m", "--clients", "2", "--progress", "20ms", "--prefix", prefix},
			func(string) string { return "" }, strings.NewReader(""), &stdout, stderr)
		done <- outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	select {
	case <-stderr.wrote:
	case got := <-done:
		t.Fatalf("the bench ended before its first progress line: exit code %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	during()
	cancel()
	return <-done
}

// firstWrite is a buffer that tells when it is first written to.
type firstWrite struct {
	mu    sync.Mutex
	b     bytes.Buffer
	once  sync.Once
	wrote chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.wrote) })
	return w.b.Write(p)
}

func (w *firstWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// lossyProxy forwards calls to a real tallyd and loses the answer of every
// nth increment after tallyd applied it, as a broken connection would.
type lossyProxy struct {
	tallyv1.UnimplementedCounterServiceServer
	upstream tallyv1.CounterServiceClient
	every    int64
	n        atomic.Int64
	lost     atomic.Int64

	mu   sync.Mutex
	keys []string // of every increment received
}

func (p *lossyProxy) Increment(ctx context.Context, req *tallyv1.IncrementRequest) (*tallyv1.IncrementResponse, error) {
	p.mu.Lock()
	p.keys = append(p.keys, req.GetIdempotencyKey())
	p.mu.Unlock()
	resp, err := p.upstream.Increment(ctx, req)
	if err == nil && p.n.Add(1)%p.every == 0 {
		p.lost.Add(1)
		return nil, status.Error(codes.Unavailable, "the test lost the answer")
	}
	return resp, err
}

func (p *lossyProxy) GetCounter(ctx context.Context, req *tallyv1.GetCounterRequest) (*tallyv1.Counter, error) {
	return p.upstream.GetCounter(ctx, req)
}

func (p *lossyProxy) CreateCounter(ctx context.Context, req *tallyv1.CreateCounterRequest) (*tallyv1.Counter, error) {
	return p.upstream.CreateCounter(ctx, req)
}

func startLossyProxy(t *testing.T, upstream string, every int64) (string, *lossyProxy) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{upstream: apiClient(t, upstream), every: every}
	srv := grpc.NewServer()
	tallyv1.RegisterCounterServiceServer(srv, p)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), p
}

// TestBenchLostAnswers runs the bench through a proxy that loses every 7th
// answer after tallyd applied the increment. With keys the bench retries
// with the same key and the count is exact; without keys each lost answer
// is an increment of unknown outcome, which the check allows.
func TestBenchLostAnswers(t *testing.T) {
	t.Parallel()
	addr := startBenchTallyd(t)
	tests := []struct {
		name string
		keys bool
	}{{"with keys", true}, {"without keys", false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			proxy, p := startLossyProxy(t, addr, 7)
			prefix := strings.ReplaceAll(tc.name, " ", "-")
			r, _ := benchJSON(t, proxy, exitOK, "--count", "300", "--clients", "4", "--counters", "2", "--delta", "3",
				"--prefix", prefix, "--keys="+map[bool]string{true: "true", false: "false"}[tc.keys])
			lost := p.lost.Load()
			if lost < 300/7 {
				t.Fatalf("the proxy lost %d answers, want at least %d", lost, 300/7)
			}
			if !r.Check.OK {
				t.Errorf("check: %s", r.Check.Message)
			}
			if got := r.Increments.ErrorsByCode["UNAVAILABLE"]; got != uint64(lost) || r.Errors != uint64(lost) {
				t.Errorf("%d UNAVAILABLE of %d errors, want the %d lost answers", got, r.Errors, lost)
			}
			checkAgainstServer(t, addr, r)
			var unknown, acked, final int64
			for _, v := range r.Check.Counters {
				unknown += v.Unknown
				acked += v.AckedSum
				final += v.Final
			}
			p.mu.Lock()
			keys := slices.Clone(p.keys)
			p.mu.Unlock()
			if tc.keys {
				// Every lost answer was retried with its key: the counters
				// hold exactly the acknowledged increments.
				if r.OK != 300 || r.Increments.Retries != uint64(lost) || unknown != 0 || final != acked {
					t.Errorf("%d ok, %d retries, %d unknown, counters at %d for %d acknowledged; want 300 ok, %d retries, exact",
						r.OK, r.Increments.Retries, unknown, final, acked, lost)
				}
				slices.Sort(keys)
				if distinct := len(slices.Compact(slices.Clone(keys))); distinct != 300 || len(keys) != 300+int(lost) || keys[0] == "" {
					t.Errorf("%d increments with %d distinct keys, want 300 keys and %d repeats", len(keys), distinct, lost)
				}
				return
			}
			// Without keys nothing is retried, and every lost answer was in
			// fact applied: the counters are at the top of their ranges.
			if r.OK != 300-uint64(lost) || r.Increments.Retries != 0 || unknown != lost || final != acked+3*lost {
				t.Errorf("%d ok, %d retries, %d unknown, counters at %d for %d acknowledged; want %d ok, no retries, %d unknown, %d",
					r.OK, r.Increments.Retries, unknown, final, acked, 300-lost, lost, acked+3*lost)
			}
			for _, v := range r.Check.Counters {
				if v.WantMax.Int64() != v.Final {
					t.Errorf("counter %s at %d, want the top of its range %s", v.ID, v.Final, v.WantMax)
				}
			}
			if slices.ContainsFunc(keys, func(k string) bool { return k != "" }) {
				t.Errorf("--keys=false sent idempotency keys")
			}
		})
	}
}

// slowSuccessProxy forwards every okEvery-th increment to a real tallyd
// after holding it for slow, and fails the others at once with
// UNAVAILABLE, without forwarding them: a server whose successes take at
// least slow and whose failures take next to nothing.
type slowSuccessProxy struct {
	tallyv1.UnimplementedCounterServiceServer
	upstream tallyv1.CounterServiceClient
	okEvery  int64
	slow     time.Duration
	n        atomic.Int64
}

func (p *slowSuccessProxy) Increment(ctx context.Context, req *tallyv1.IncrementRequest) (*tallyv1.IncrementResponse, error) {
	if p.n.Add(1)%p.okEvery != 0 {
		return nil, status.Error(codes.Unavailable, "the test fails this call at once")
	}
	t := time.NewTimer(p.slow)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-t.C:
	}
	return p.upstream.Increment(ctx, req)
}

func (p *slowSuccessProxy) GetCounter(ctx context.Context, req *tallyv1.GetCounterRequest) (*tallyv1.Counter, error) {
	return p.upstream.GetCounter(ctx, req)
}

func (p *slowSuccessProxy) CreateCounter(ctx context.Context, req *tallyv1.CreateCounterRequest) (*tallyv1.Counter, error) {
	return p.upstream.CreateCounter(ctx, req)
}

func startSlowSuccessProxy(t *testing.T, upstream string, okEvery int64, slow time.Duration) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	tallyv1.RegisterCounterServiceServer(srv, &slowSuccessProxy{upstream: apiClient(t, upstream), okEvery: okEvery, slow: slow})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// TestBenchFastFailures runs the bench against a server whose successes
// take at least 20ms and whose failures are instant: the latency is that of
// the successes, the failures are counted by code, and with keys the time
// to acknowledgement includes the failed attempts and the backoff.
func TestBenchFastFailures(t *testing.T) {
	t.Parallel()
	const slow = 20 * time.Millisecond
	addr := startBenchTallyd(t)
	atLeast := func(t *testing.T, what string, got float64, want time.Duration) {
		t.Helper()
		// A quantile is its bucket's midpoint, up to 0.4% below a sample.
		if got < millis(want)*0.995 {
			t.Errorf("%s is %gms, want at least %v", what, got, want)
		}
	}

	t.Run("without keys", func(t *testing.T) {
		t.Parallel()
		// Two of three calls fail: a p50 of every call would be a failure's.
		proxy := startSlowSuccessProxy(t, addr, 3, slow)
		r, _ := benchJSON(t, proxy, exitOK, "--count", "90", "--clients", "6", "--keys=false", "--prefix", "fast-failures")
		if r.Increments.OK != 30 || r.Increments.ErrorsByCode["UNAVAILABLE"] != 60 {
			t.Fatalf("%d ok, errors %v; want 30 ok and 60 UNAVAILABLE", r.Increments.OK, r.Increments.ErrorsByCode)
		}
		l := r.Increments.Latency
		for _, q := range []struct {
			name string
			v    float64
		}{{"p50", l.P50}, {"p95", l.P95}, {"p99", l.P99}, {"max", l.Max}, {"mean", l.Mean}} {
			atLeast(t, "the increments' "+q.name, q.v, slow)
		}
		atLeast(t, "the run's p50", r.Latency.P50, slow)
		if r.Increments.TimeToAck != nil {
			t.Errorf("time to ack %+v without keys", r.Increments.TimeToAck)
		}
		for _, s := range r.PerSecond {
			switch {
			case s.OK > 0 && s.P99 == nil:
				t.Errorf("a second with %d successful calls has no p99", s.OK)
			case s.OK > 0:
				atLeast(t, "a second's p99", *s.P99, slow)
			case s.P99 != nil:
				t.Errorf("a second without a successful call has p99 %v ms", *s.P99)
			}
		}
	})

	t.Run("with keys", func(t *testing.T) {
		t.Parallel()
		proxy := startSlowSuccessProxy(t, addr, 2, slow)
		r, _ := benchJSON(t, proxy, exitOK, "--count", "80", "--clients", "8", "--prefix", "fast-failures-keys")
		if r.Increments.OK != 80 || r.Increments.Retries == 0 || !r.Check.OK {
			t.Fatalf("%d ok, %d retries, check %s; want 80 ok after retries", r.Increments.OK, r.Increments.Retries, r.Check.Message)
		}
		l, ack := r.Increments.Latency, r.Increments.TimeToAck
		if ack == nil {
			t.Fatal("no time to ack with keys")
		}
		atLeast(t, "the increments' p50", l.P50, slow)
		// Each acknowledged increment took at least as long from its first
		// attempt as its successful attempt did, so every quantile is at
		// least as high; a retried one took a failed attempt and a backoff
		// of at least 2.5ms more.
		for _, q := range []struct {
			name         string
			attempt, ack float64
		}{{"p50", l.P50, ack.P50}, {"p95", l.P95, ack.P95}, {"p99", l.P99, ack.P99}, {"max", l.Max, ack.Max}} {
			if q.ack < q.attempt {
				t.Errorf("time to ack %s %gms is below the attempts' %gms", q.name, q.ack, q.attempt)
			}
		}
		if ack.Mean <= l.Mean {
			t.Errorf("time to ack mean %gms, attempts' %gms: the %d retries' backoff is missing", ack.Mean, l.Mean, r.Increments.Retries)
		}
		atLeast(t, "the time to ack's max", ack.Max, slow+2500*time.Microsecond)
	})

	t.Run("the table's to ack row", func(t *testing.T) {
		t.Parallel()
		proxy := startSlowSuccessProxy(t, addr, 2, slow)
		got := runTally(context.Background(), "--addr", proxy, "bench", "--count", "20", "--clients", "4", "--progress", "0", "--prefix", "fast-failures-table")
		if got.code != exitOK {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^ +increments +[2-9]\d +[1-9]\d* +[\d,]+ +[\d.]+ms +[\d.]+ms +[\d.]+ms +[\d.]+ms$`),
			regexp.MustCompile(`(?m)^ +to ack +20 +[\d.]+ms +[\d.]+ms +[\d.]+ms +[\d.]+ms$`),
			regexp.MustCompile(`(?m)^latency: of the successful calls, each attempt timed on its own; "to ack": from an increment's first attempt to its acknowledgement, retries included$`),
			regexp.MustCompile(`(?m)^errors: increments: UNAVAILABLE [1-9]\d*$`),
		} {
			if !want.MatchString(got.stdout) {
				t.Errorf("the table does not match %s:\n%s", want, got.stdout)
			}
		}
	})
}
