package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// benchConfig is a checked `tally bench` command line.
type benchConfig struct {
	clients     int
	connections int
	duration    time.Duration // 0 with count
	count       int64         // 0 with duration
	counters    int
	zipf        bool
	zipfS       float64
	readRatio   float64
	keys        bool
	delta       int64
	prefix      string
	rate        float64 // calls/s; 0 is a closed loop
	json        bool
	chart       string
	progress    time.Duration // 0: no progress line
	grace       time.Duration
}

// Limits of the bench's flags.
const (
	maxBenchClients  = 10000
	maxBenchCounters = 100000
	maxBenchDelta    = 1_000_000_000
	maxBenchRate     = 10_000_000
	maxZipfS         = 100
	// The longest prefix leaves room for "-" and a counter's index within
	// the API's 1,500 bytes of a counter ID.
	maxBenchPrefix       = 1400
	defaultBenchDuration = 10 * time.Second
	defaultZipfS         = 0.99
)

// textFlag holds a flag's text until benchFlags.config checks it, so that a
// bad value gets a message naming the values the flag accepts.
type textFlag struct {
	text string
	set  bool
}

func (f *textFlag) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

func (f *textFlag) Set(s string) error {
	f.text, f.set = s, true
	return nil
}

// benchFlags are the flags of `tally bench` as given.
type benchFlags struct {
	fs                                    *flag.FlagSet
	clients, connections, count, counters textFlag
	skew, zipfS, readRatio, delta, rate   textFlag
	prefix                                textFlag
	duration, progress, grace             time.Duration
	keys, json                            bool
	chart                                 string
}

func newBenchFlags(fs *flag.FlagSet) *benchFlags {
	f := &benchFlags{fs: fs,
		clients: textFlag{text: "16"}, connections: textFlag{text: "1"}, counters: textFlag{text: "1"},
		skew: textFlag{text: "uniform"}, zipfS: textFlag{text: strconv.FormatFloat(defaultZipfS, 'g', -1, 64)},
		readRatio: textFlag{text: "0"}, delta: textFlag{text: "1"}, rate: textFlag{text: "0"},
	}
	fs.Var(&f.clients, "clients", "`N` concurrent callers (default 16)")
	fs.Var(&f.connections, "connections", "spread the callers over `N` connections (default 1)")
	fs.DurationVar(&f.duration, "duration", 0, "start calls for `D` (default 10s unless --count is given)")
	fs.Var(&f.count, "count", "start `N` calls in all (retries come on top), instead of running for a duration")
	fs.Var(&f.counters, "counters", "spread the calls over `N` counters (default 1)")
	fs.Var(&f.skew, "skew", "how the counters are chosen: `uniform|zipf` (default uniform)")
	fs.Var(&f.zipfS, "zipf-s", "the exponent `S` of --skew zipf: counter k is chosen in proportion to 1/(k+1)^S (default 0.99)")
	fs.Var(&f.readRatio, "read-ratio", "the fraction `F` of calls that are GetCounter, from 0 (default) to 1")
	fs.BoolVar(&f.keys, "keys", true, "give each increment a fresh idempotency key and retry failed ones with it (--keys=false: no keys, no retries)")
	fs.Var(&f.delta, "delta", "add `N` with each increment (default 1; negative subtracts)")
	fs.Var(&f.prefix, "prefix", "counter IDs are `P`-0, P-1, ... (default bench-RANDOM, fresh counters for each run)")
	fs.Var(&f.rate, "rate", "start `R` calls/s in all, whether earlier ones have been answered or not (default 0: each caller waits for its answer)")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fs.StringVar(&f.chart, "chart", "", "write throughput and p99 latency per second as an SVG chart to `FILE`")
	fs.DurationVar(&f.progress, "progress", time.Second, "show a progress line on stderr every `D` (default 1s; 0: none)")
	fs.DurationVar(&f.grace, "grace", 10*time.Second, "after the last call is started, retry unanswered keyed increments for at most `D` more (default 10s)")
	return f
}

// given reports whether the flag name was on the command line.
func (f *benchFlags) given(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// config checks the flags and returns the configuration they ask for.
func (f *benchFlags) config() (benchConfig, error) {
	c := benchConfig{keys: f.keys, json: f.json, chart: f.chart, progress: f.progress, grace: f.grace}
	var err error
	if c.clients, err = intFlag("clients", f.clients.text, 1, maxBenchClients); err != nil {
		return c, err
	}
	if c.connections, err = intFlag("connections", f.connections.text, 1, maxBenchClients); err != nil {
		return c, err
	}
	if c.connections > c.clients {
		return c, usageErrorf("--connections %d is more than --clients %d: each connection needs a caller", c.connections, c.clients)
	}
	if c.counters, err = intFlag("counters", f.counters.text, 1, maxBenchCounters); err != nil {
		return c, err
	}
	if err := f.length(&c); err != nil {
		return c, err
	}
	if err := f.mix(&c); err != nil {
		return c, err
	}
	if c.prefix, err = benchPrefix(f.prefix); err != nil {
		return c, err
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"progress", c.progress}, {"grace", c.grace}} {
		if d.value < 0 {
			return c, usageErrorf("--%s %s must not be negative", d.name, d.value)
		}
	}
	if c.chart == "" && f.given("chart") {
		return c, usageErrorf("--chart needs a FILE name")
	}
	return c, nil
}

// length checks how long the run is and how fast it starts calls.
func (f *benchFlags) length(c *benchConfig) error {
	switch {
	case f.given("duration") && f.count.set:
		return usageErrorf("--duration and --count exclude each other: give one of them")
	case f.count.set:
		n, err := intFlag("count", f.count.text, 1, math.MaxInt)
		if err != nil {
			return err
		}
		c.count = int64(n)
	case f.given("duration"):
		if f.duration <= 0 {
			return usageErrorf("--duration %s must be positive", f.duration)
		}
		c.duration = f.duration
	default:
		c.duration = defaultBenchDuration
	}
	var err error
	c.rate, err = floatFlag("rate", f.rate.text, 0, maxBenchRate)
	return err
}

// mix checks what the calls are: reads or increments, of which counters.
func (f *benchFlags) mix(c *benchConfig) error {
	switch f.skew.text {
	case "uniform":
		if f.zipfS.set {
			return usageErrorf("--zipf-s applies only with --skew zipf")
		}
	case "zipf":
		c.zipf = true
	default:
		return usageErrorf("--skew %q must be uniform or zipf", f.skew.text)
	}
	var err error
	if c.zipfS, err = floatFlag("zipf-s", f.zipfS.text, 0, maxZipfS); err != nil {
		return err
	}
	if c.zipfS == 0 {
		return usageErrorf("--zipf-s must be more than 0 (0 would be uniform: use --skew uniform)")
	}
	if c.readRatio, err = floatFlag("read-ratio", f.readRatio.text, 0, 1); err != nil {
		return err
	}
	delta, err := intFlag("delta", f.delta.text, -maxBenchDelta, maxBenchDelta)
	if err != nil {
		return err
	}
	if delta == 0 {
		return usageErrorf("--delta must not be 0: increments of 0 could not show a lost or repeated increment")
	}
	c.delta = int64(delta)
	return nil
}

// benchPrefix returns the counter ID prefix: the flag's, or a fresh one.
func benchPrefix(f textFlag) (string, error) {
	if !f.set {
		return "bench-" + randomHex(4), nil
	}
	p := f.text
	switch {
	case p == "":
		return "", usageErrorf("--prefix must not be empty")
	case strings.Contains(p, "/"):
		return "", usageErrorf("--prefix %q must not contain \"/\": counter IDs cannot", p)
	case !utf8.ValidString(p):
		return "", usageErrorf("--prefix must be valid UTF-8")
	case len(p) > maxBenchPrefix:
		return "", usageErrorf("--prefix is %d bytes long, more than the %d that leave room for a counter's index", len(p), maxBenchPrefix)
	}
	return p, nil
}

func intFlag(name, text string, lo, hi int) (int, error) {
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < int64(lo) || n > int64(hi) {
		return 0, usageErrorf("--%s %q must be an integer from %s to %s", name, text, groupDigits(int64(lo)), groupDigits(int64(hi)))
	}
	return int(n), nil
}

func floatFlag(name, text string, lo, hi float64) (float64, error) {
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(x) || x < lo || x > hi {
		return 0, usageErrorf("--%s %q must be a number from %s to %s", name, text,
			strconv.FormatFloat(lo, 'f', -1, 64), groupDigits(int64(hi)))
	}
	return x, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
