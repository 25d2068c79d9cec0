// Command compare sets tallyd beside the usual ways of keeping a counter, on this machine: Redis
// INCR with an append-only file (fsync always, and every second), PostgreSQL UPDATE on one row and
// on 16 rows, SQLite in WAL mode, a JSON file rewritten with write-temp-fsync-rename, an
// append-only event log with a record per increment (fdatasync before the answer, group commit),
// and Memcached (no persistence). It is opt-in and not part of CI; bench/compare.sh installs the
// Debian packages it needs and runs it:
//
//	bench/compare.sh [flags]
//
// The throughput half increments one hot counter from 1, 16 and 64 concurrent clients for a
// fixed time each and prints increments per second, p50 and p99 latency, and the ratio to tallyd
// with idempotency keys at the same number of clients. The durability half SIGKILLs and restarts
// each store's server a few times while 16 clients increment and retry, then compares the final
// value with the acknowledged increments: lost ones, and ones counted twice.
//
// Every server runs on 127.0.0.1 on a free port, with its data in a temporary directory, and is
// stopped at the end. tallyd is built from this tree. With -svg the throughput is also drawn as
// a chart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tally-dev/tally/bench/compare/crash"
	"github.com/tally-dev/tally/bench/compare/eventlog"
	"github.com/tally-dev/tally/bench/compare/jsonfile"
	"github.com/tally-dev/tally/bench/compare/load"
	"github.com/tally-dev/tally/bench/compare/machine"
	"github.com/tally-dev/tally/bench/compare/report"
	"github.com/tally-dev/tally/bench/compare/systems"
)

// The arguments that make this program the JSON file's writer process and the event log's server
// process.
const (
	writerCommand   = "jsonfile-writer"
	eventlogCommand = "eventlog-server"
)

// allSystems are the stores' ids, in the tables' order.
var allSystems = []string{"tallyd-keys", "tallyd", "redis-always", "redis-everysec", "postgres-1", "postgres-16", "sqlite", "jsonfile", "eventlog", "memcached"}

// notDurable are the stores that acknowledge an increment before it is on disk.
var notDurable = []string{"redis-everysec", "memcached"}

// baseline is the system every throughput is compared with.
const baseline = "tallyd, keys"

type config struct {
	duration, warmup   time.Duration
	clients            []int
	systems            []string
	throughput, crash  bool
	kills, crashCl     int
	every, down, drain time.Duration
	svg, dir, tallyd   string
	keep               bool
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case writerCommand:
			os.Exit(jsonfile.Main(os.Args[2:]))
		case eventlogCommand:
			os.Exit(eventlog.Main(os.Args[2:]))
		}
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// parseFlags checks the command line; usage and parse errors are written to output.
func parseFlags(args []string, output io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per store and number of clients")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	clients := fs.String("clients", "1,16,64", "numbers of concurrent clients, comma-separated")
	only := fs.String("systems", strings.Join(allSystems, ","), "stores to run, comma-separated")
	half := fs.String("half", "both", "what to run: throughput, durability or both")
	fs.IntVar(&c.kills, "kills", 3, "durability: SIGKILLs per store")
	fs.IntVar(&c.crashCl, "durability-clients", 16, "durability: concurrent clients")
	fs.DurationVar(&c.every, "every", 2*time.Second, "durability: increments between restarts and kills")
	fs.DurationVar(&c.down, "down", 300*time.Millisecond, "durability: how long a killed server stays down")
	fs.DurationVar(&c.drain, "drain", 20*time.Second, "durability: most time to finish the increments in flight at the end")
	fs.StringVar(&c.svg, "svg", "", "write the throughput chart to this `file`")
	fs.StringVar(&c.dir, "dir", "", "`directory` for the stores' data (a temporary directory inside it); the system's temporary directory when empty")
	fs.StringVar(&c.tallyd, "tallyd", "", "tallyd `binary` to run; built from this tree when empty")
	fs.BoolVar(&c.keep, "keep", false, "keep the stores' data and logs")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.duration <= 0 {
		return c, fmt.Errorf("-duration %v is not positive", c.duration)
	}
	if c.warmup < 0 {
		return c, fmt.Errorf("-warmup %v is negative", c.warmup)
	}
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-clients: %q is not a positive number", s)
		}
		c.clients = append(c.clients, n)
	}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allSystems, s) {
			return c, fmt.Errorf("-systems: unknown %q (known: %s)", s, strings.Join(allSystems, ", "))
		}
		c.systems = append(c.systems, s)
	}
	switch *half {
	case "both":
		c.throughput, c.crash = true, true
	case "throughput":
		c.throughput = true
	case "durability":
		c.crash = true
	default:
		return c, fmt.Errorf("-half: %q is not throughput, durability or both", *half)
	}
	return c, nil
}

// newSystem returns the store with the given id.
func newSystem(id, tallyd string, self string) systems.System {
	switch id {
	case "tallyd-keys":
		return systems.NewTallyd(tallyd, true)
	case "tallyd":
		return systems.NewTallyd(tallyd, false)
	case "redis-always":
		return systems.NewRedis("always")
	case "redis-everysec":
		return systems.NewRedis("everysec")
	case "postgres-1":
		return systems.NewPostgres(1)
	case "postgres-16":
		return systems.NewPostgres(16)
	case "sqlite":
		return systems.NewSQLite()
	case "jsonfile":
		return systems.NewJSONFile(self, writerCommand)
	case "eventlog":
		return systems.NewEventLog(self, eventlogCommand)
	case "memcached":
		return systems.NewMemcached()
	}
	panic("unknown system " + id)
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	base, err := os.MkdirTemp(cfg.dir, "tally-compare-")
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Fprintln(os.Stderr, "data and logs kept in", base)
	} else {
		defer os.RemoveAll(base)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tallyd := cfg.tallyd
	if tallyd == "" && (slices.Contains(cfg.systems, "tallyd") || slices.Contains(cfg.systems, "tallyd-keys")) {
		progress("building tallyd from this tree")
		if tallyd, err = systems.BuildTallyd(ctx, base); err != nil {
			return err
		}
	}
	info, err := machine.Describe(base)
	if err != nil {
		return fmt.Errorf("describing the machine: %w", err)
	}
	started := time.Now().UTC()
	load0 := machine.LoadAverage()
	subtitle := fmt.Sprintf("%s; %s; load average %s", started.Format("2006-01-02 15:04 UTC"), info, load0)
	fmt.Fprintf(out, "# Comparison with the usual strategies\n\n")
	fmt.Fprintf(out, "- date: %s\n- machine: %s\n- data directory: %s\n- command: %s\n", started.Format("2006-01-02 15:04 UTC"), info, cfg.dirLabel(), command())
	fmt.Fprintf(out, "- clients and servers share the machine's %d cores; every server listens on 127.0.0.1 only\n", info.Cores)
	fmt.Fprintf(out, "- load average (1, 5, 15 min) at the start: %s\n", load0)

	var rows []report.Throughput
	if cfg.throughput {
		fmt.Fprintf(out, "\n## Throughput: increments of one hot counter\n\n")
		fmt.Fprintf(out, "%v measured per row after %v of warm-up; clients call back to back, each waiting for its answer.\n\n", cfg.duration, cfg.warmup)
		var checks []string
		for _, id := range cfg.systems {
			sys := newSystem(id, tallyd, self)
			r, check, err := throughput(ctx, cfg, sys, filepath.Join(base, id+"-throughput"))
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				checks = append(checks, fmt.Sprintf("%s: not measured: %v", sys.Name(), err))
				continue
			}
			for i := range r {
				r[i].NotDurable = slices.Contains(notDurable, id)
			}
			rows = append(rows, r...)
			checks = append(checks, check)
		}
		report.ThroughputTable(out, rows, baseline)
		fmt.Fprintf(out, "\nFinal value against the increments acknowledged during the runs (warm-ups included):\n\n")
		for _, c := range checks {
			fmt.Fprintf(out, "- %s\n", c)
		}
		if cfg.svg != "" && len(rows) > 0 {
			if err := writeSVG(cfg.svg, rows, subtitle); err != nil {
				return err
			}
			fmt.Fprintf(out, "\nChart: %s\n", cfg.svg)
		}
	}

	if cfg.crash {
		fmt.Fprintf(out, "\n## Durability: SIGKILL and restart under load\n\n")
		fmt.Fprintf(out, "%d clients increment while the server is SIGKILLed %d times (%v apart, down %v each time) and restarted. "+
			"A client counts an increment once the store acknowledged it; on an error it calls again after a short pause "+
			"(tallyd with keys: with the same idempotency key; every other store: the plain command again). "+
			"At the end the clients finish the increments in flight, so every increment started was acknowledged, and the value is read.\n\n",
			cfg.crashCl, cfg.kills, cfg.every, cfg.down)
		var drows []report.Durability
		var ran []string
		for _, id := range cfg.systems {
			sys := newSystem(id, tallyd, self)
			r, err := durability(ctx, cfg, sys, filepath.Join(base, id+"-durability"))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, systems.ErrMissing) {
				fmt.Fprintf(out, "- %s: not run: %v\n", sys.Name(), err)
				continue
			}
			drows = append(drows, report.Durability{System: sys.Name(), Result: r, Err: err})
			ran = append(ran, id)
		}
		report.DurabilityTable(out, drows)
		fmt.Fprintln(out)
		for _, n := range notes(ran) {
			fmt.Fprintf(out, "- %s\n", n)
		}
	}
	fmt.Fprintf(out, "\nLoad average at the end: %s; the run took %v.\n", machine.LoadAverage(), time.Since(started).Round(time.Second))
	progress(fmt.Sprintf("done in %v", time.Since(started).Round(time.Second)))
	return nil
}

// throughput measures one store at every number of clients, and checks its value at the end.
func throughput(ctx context.Context, cfg config, sys systems.System, dir string) ([]report.Throughput, string, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, "", err
	}
	progress("starting " + sys.Name())
	defer func() {
		if err := sys.Stop(); err != nil {
			progress(fmt.Sprintf("stopping %s: %v", sys.Name(), err))
		}
	}()
	if err := sys.Start(ctx, dir); err != nil {
		return nil, "", err
	}
	var rows []report.Throughput
	var acked int64
	for _, n := range cfg.clients {
		prefix := fmt.Sprintf("t%x-%d", time.Now().UnixNano(), n)
		r := load.Run(ctx, n, cfg.warmup, cfg.duration, prefix, sys.Increment)
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		progress(fmt.Sprintf("%-20s %3d clients: %9.0f/s  p50 %s  p99 %s  errors %d", sys.Name(), n, r.Throughput(), report.FormatLatency(r.P50), report.FormatLatency(r.P99), r.Errors))
		rows = append(rows, report.Throughput{System: sys.Name(), Result: r})
		acked += r.Acked
	}
	v, err := sys.Value(ctx)
	switch {
	case err != nil:
		return rows, fmt.Sprintf("%s: reading the value failed: %v", sys.Name(), err), nil
	case v == acked:
		return rows, fmt.Sprintf("%s: %s = %s acknowledged", sys.Name(), report.Thousands(v), report.Thousands(acked)), nil
	}
	// A call that failed may have been applied: say so rather than hide it.
	return rows, fmt.Sprintf("%s: %s, but %s acknowledged (calls that failed may have been applied)", sys.Name(), report.Thousands(v), report.Thousands(acked)), nil
}

// durability runs the kill test on one store.
func durability(ctx context.Context, cfg config, sys systems.System, dir string) (crash.Result, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return crash.Result{}, err
	}
	progress("kill test of " + sys.Name())
	defer func() {
		if err := sys.Stop(); err != nil {
			progress(fmt.Sprintf("stopping %s: %v", sys.Name(), err))
		}
	}()
	if err := sys.Start(ctx, dir); err != nil {
		return crash.Result{}, err
	}
	r, err := crash.Run(ctx, sys, crash.Options{
		Clients: cfg.crashCl, Kills: cfg.kills, Every: cfg.every, Down: cfg.down,
		Attempt: 3 * time.Second, Drain: cfg.drain, Prefix: fmt.Sprintf("k%x", time.Now().UnixNano()),
	})
	progress(fmt.Sprintf("%-20s kills %d acked %d value %d lost %d extra %d retries %d err %v", sys.Name(), r.Kills, r.Acked, r.Value, r.Lost(), r.Extra(), r.Retries, err))
	return r, err
}

// notes explains the durability results of the stores run.
func notes(ran []string) []string {
	has := func(ids ...string) bool {
		for _, id := range ids {
			if slices.Contains(ran, id) {
				return true
			}
		}
		return false
	}
	var n []string
	n = append(n, "lost is acknowledged − final value and double-counted is final value − acknowledged, each when positive: "+
		"they are net figures (a double count hides a loss), from one counter's value.")
	if has("tallyd-keys") {
		n = append(n, "tallyd, keys: a retry carries the same idempotency key, so an increment whose answer was cut off by the kill is applied once.")
	}
	if has("tallyd", "redis-always", "redis-everysec", "postgres-1", "postgres-16", "sqlite", "jsonfile", "eventlog") {
		n = append(n, "Plain retries (tallyd without keys, Redis, PostgreSQL, SQLite, the JSON file, the event log): an increment that was applied and made durable "+
			"just before the kill, whose answer never arrived, is sent again and counted twice. How many depends on how many were in that "+
			"window at each kill: more with group commit, where many increments share one fsync.")
	}
	if has("redis-everysec") {
		n = append(n, "Redis everysec: Redis writes the append-only file to the kernel before it answers and fsyncs it once a second, so a SIGKILL "+
			"of the process loses nothing (the kernel still has the data). A machine crash or power cut, not simulated here, may lose "+
			"the last ~1–2 s of acknowledged increments; appendfsync always, PostgreSQL, SQLite (FULL), the JSON file, the event log and tallyd fsync before answering.")
	}
	if has("memcached") {
		n = append(n, "Memcached keeps nothing on disk: each restart starts from an empty cache (the incr-or-add client recreates the key), "+
			"so every increment acknowledged before the last kill is lost.")
	}
	n = append(n, "A process kill is not a power cut: writes that reached the kernel survive it with or without fsync. This test shows what a "+
		"crash of the server process loses, and what retries add; it cannot show what fsync protects against.")
	return n
}

func writeSVG(path string, rows []report.Throughput, subtitle string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.SVG(f, rows, subtitle); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dirLabel names where the stores' data goes, for the header.
func (c config) dirLabel() string {
	if c.dir != "" {
		return c.dir
	}
	return os.TempDir()
}

// command is the command line that ran the comparison, as bench/compare.sh reports it.
func command() string {
	if c := os.Getenv("COMPARE_COMMAND"); c != "" {
		return "`" + c + "`"
	}
	return "`go run ./bench/compare " + strings.Join(os.Args[1:], " ") + "`"
}

// progress reports what the comparison is doing on stderr.
func progress(s string) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), s)
}
