package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
)

// benchResult is the outcome of a run, printed as a table or as JSON.
type benchResult struct {
	Clients         int               `json:"clients"`
	Connections     int               `json:"connections"`
	Counters        int               `json:"counters"`
	Prefix          string            `json:"prefix"`
	Skew            string            `json:"skew"`
	ZipfS           float64           `json:"zipf_s,omitempty"`
	ReadRatio       float64           `json:"read_ratio"`
	Keys            bool              `json:"keys"`
	Delta           int64             `json:"delta"`
	Rate            float64           `json:"rate"`
	Interrupted     bool              `json:"interrupted"`
	DurationSeconds float64           `json:"duration_seconds"`
	Calls           uint64            `json:"calls"`
	OK              uint64            `json:"ok"`
	Errors          uint64            `json:"errors"`
	Throughput      float64           `json:"throughput"` // successful calls per second
	Latency         latencySummary    `json:"latency_ms"` // of the successful calls
	Increments      opResult          `json:"increments"`
	Reads           opResult          `json:"reads"`
	ErrorsByCode    map[string]uint64 `json:"errors_by_code"`
	PerSecond       []secondResult    `json:"per_second"`
	Check           benchCheck        `json:"check"`
}

// opResult is the summary of the calls of one kind.
type opResult struct {
	Calls      uint64         `json:"calls"`
	OK         uint64         `json:"ok"`
	Errors     uint64         `json:"errors"`
	Retries    uint64         `json:"retries"`
	Throughput float64        `json:"throughput"`
	Latency    latencySummary `json:"latency_ms"` // of the successful attempts, each timed on its own
	// TimeToAck is, for keyed increments, from an increment's first attempt
	// to its acknowledgement, retries and backoff included.
	TimeToAck    *latencySummary   `json:"time_to_ack_ms,omitempty"`
	ErrorsByCode map[string]uint64 `json:"errors_by_code"`
}

// latencySummary holds milliseconds, rounded to the microsecond.
type latencySummary struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type secondResult struct {
	Start      float64  `json:"t"` // seconds since the start of the run
	Length     float64  `json:"length"`
	OK         uint64   `json:"ok"`
	Errors     uint64   `json:"errors"`
	Throughput float64  `json:"throughput"`
	P99        *float64 `json:"p99_ms"` // of the successful calls; null in a second without one
}

func summarize(h *histogram) latencySummary {
	return latencySummary{P50: millis(h.quantile(0.50)), P95: millis(h.quantile(0.95)),
		P99: millis(h.quantile(0.99)), Max: millis(h.max), Mean: millis(h.mean())}
}

func millis(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}

func codeName(c codes.Code) string { return code.Code(c).String() }

func errorsByCode(errs ...map[codes.Code]uint64) map[string]uint64 {
	m := map[string]uint64{}
	for _, e := range errs {
		for c, n := range e {
			m[codeName(c)] += n
		}
	}
	return m
}

func newOpResult(s *opStats, elapsed time.Duration) opResult {
	return opResult{Calls: s.calls, OK: s.ok, Errors: s.failed(), Retries: s.retries,
		Throughput: perSecond(s.ok, elapsed), Latency: summarize(&s.latency), ErrorsByCode: errorsByCode(s.errors)}
}

// newBenchResult puts the run's numbers together.
func newBenchResult(cfg benchConfig, rec *recorder, elapsed time.Duration, seconds []benchSecond, check benchCheck) *benchResult {
	inc, reads := rec.totals(opIncrement), rec.totals(opRead)
	var all histogram
	all.merge(&inc.latency)
	all.merge(&reads.latency)
	r := &benchResult{
		Clients: cfg.clients, Connections: cfg.connections, Counters: cfg.counters, Prefix: cfg.prefix,
		Skew: "uniform", ReadRatio: cfg.readRatio, Keys: cfg.keys, Delta: cfg.delta, Rate: cfg.rate,
		DurationSeconds: math.Round(elapsed.Seconds()*1e3) / 1e3,
		Calls:           inc.calls + reads.calls, OK: inc.ok + reads.ok, Errors: inc.failed() + reads.failed(),
		Throughput: perSecond(inc.ok+reads.ok, elapsed), Latency: summarize(&all),
		Increments: newOpResult(&inc, elapsed), Reads: newOpResult(&reads, elapsed),
		ErrorsByCode: errorsByCode(inc.errors, reads.errors), PerSecond: []secondResult{}, Check: check,
	}
	if cfg.keys {
		toAck := summarize(&inc.toAck)
		r.Increments.TimeToAck = &toAck
	}
	if cfg.zipf {
		r.Skew, r.ZipfS = "zipf", cfg.zipfS
	}
	for _, s := range seconds {
		sr := secondResult{Start: s.start.Seconds(), Length: s.length.Seconds(),
			OK: s.ok, Errors: s.errors, Throughput: perSecond(s.ok, s.length)}
		if s.ok > 0 {
			p99 := millis(s.p99)
			sr.P99 = &p99
		}
		r.PerSecond = append(r.PerSecond, sr)
	}
	return r
}

func (r *benchResult) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// writeTable prints the result for people; inc and reads are the run's
// totals.
func (r *benchResult) writeTable(w io.Writer, inc, reads *opStats) error {
	var b strings.Builder
	loop := "closed loop"
	if r.Rate > 0 {
		loop = fmt.Sprintf("open loop at %s calls/s", strconv.FormatFloat(r.Rate, 'f', -1, 64))
	}
	fmt.Fprintf(&b, "tally bench: %s over %s, %s, %.2fs", plural(int64(r.Clients), "client", "clients"),
		plural(int64(r.Connections), "connection", "connections"), loop, r.DurationSeconds)
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	skew := r.Skew
	if r.Skew == "zipf" {
		skew = "zipf s=" + strconv.FormatFloat(r.ZipfS, 'g', -1, 64)
	}
	keys := "idempotency keys"
	if !r.Keys {
		keys = "no keys"
	}
	counters := "counter " + r.Prefix + "-0"
	if r.Counters > 1 {
		counters = fmt.Sprintf("%s counters %s-0..%d (%s)", groupDigits(int64(r.Counters)), r.Prefix, r.Counters-1, skew)
	}
	fmt.Fprintf(&b, "\n%s, %g%% reads, %s, delta %d\n\n", counters, r.ReadRatio*100, keys, r.Delta)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	// The right-aligned columns follow the names, padded to one width.
	fmt.Fprintf(tw, "%-10s\tCALLS\tERRORS\tOK/S\tP50\tP95\tP99\tMAX\t\n", "")
	var all histogram
	all.merge(&inc.latency)
	all.merge(&reads.latency)
	for _, row := range []struct {
		name string
		op   opResult
		h    *histogram
	}{
		{"increments", r.Increments, &inc.latency},
		{"reads", r.Reads, &reads.latency},
		{"all", opResult{Calls: r.Calls, Errors: r.Errors, Throughput: r.Throughput}, &all},
	} {
		fmt.Fprintf(tw, "%-10s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, groupDigits(int64(row.op.Calls)), groupDigits(int64(row.op.Errors)),
			groupDigits(int64(math.Round(row.op.Throughput))),
			latencyText(row.h, 0.50), latencyText(row.h, 0.95), latencyText(row.h, 0.99), latencyText(row.h, 1))
	}
	if r.Keys {
		h := &inc.toAck
		fmt.Fprintf(tw, "%-10s\t%s\t\t\t%s\t%s\t%s\t%s\t\n", "to ack", groupDigits(int64(h.n)),
			latencyText(h, 0.50), latencyText(h, 0.95), latencyText(h, 0.99), latencyText(h, 1))
	}
	tw.Flush()

	b.WriteString("\nlatency: of the successful calls, each attempt timed on its own")
	if r.Keys {
		b.WriteString(`; "to ack": from an increment's first attempt to its acknowledgement, retries included`)
	}
	b.WriteString("\n")
	if r.Increments.Retries > 0 {
		fmt.Fprintf(&b, "retries: %s increments repeated with their keys\n", groupDigits(int64(r.Increments.Retries)))
	}
	fmt.Fprintf(&b, "errors: %s\n", errorsText(r))
	fmt.Fprintf(&b, "check: %s\n", r.Check.Message)
	_, err := io.WriteString(w, b.String())
	return err
}

func errorsText(r *benchResult) string {
	var parts []string
	for _, op := range []struct {
		name string
		errs map[string]uint64
	}{{"increments", r.Increments.ErrorsByCode}, {"reads", r.Reads.ErrorsByCode}} {
		if len(op.errs) == 0 {
			continue
		}
		var byCode []string
		for _, c := range slices.Sorted(maps.Keys(op.errs)) {
			byCode = append(byCode, fmt.Sprintf("%s %s", c, groupDigits(int64(op.errs[c]))))
		}
		parts = append(parts, op.name+": "+strings.Join(byCode, ", "))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// latencyText shows quantile q of h, or "-" without calls.
func latencyText(h *histogram, q float64) string {
	if h.n == 0 {
		return "-"
	}
	return formatLatency(h.quantile(q))
}

// formatLatency shows d with about three significant digits.
func formatLatency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// groupDigits writes n with commas between groups of three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return groupDigits(n) + " " + many
}
