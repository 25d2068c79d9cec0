package main

import (
	"context"
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// benchConfigOf parses a bench command line the way run does.
func benchConfigOf(t *testing.T, args ...string) (benchConfig, error) {
	t.Helper()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := newBenchFlags(fs)
	if _, err := parseFlags(fs, args, true); err != nil {
		return benchConfig{}, err
	}
	return f.config()
}

func TestBenchFlagDefaults(t *testing.T) {
	c, err := benchConfigOf(t)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^bench-[0-9a-f]{8}$`).MatchString(c.prefix) {
		t.Errorf("default prefix %q, want bench-RANDOM", c.prefix)
	}
	c.prefix = ""
	want := benchConfig{clients: 16, connections: 1, duration: 10 * time.Second, counters: 1, zipfS: 0.99,
		keys: true, delta: 1, progress: time.Second, grace: 10 * time.Second}
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
	other, _ := benchConfigOf(t)
	if other.prefix == c.prefix {
		t.Errorf("two runs got the same prefix %q", c.prefix)
	}
}

func TestBenchFlags(t *testing.T) {
	tests := []struct {
		args []string
		want benchConfig
	}{
		{[]string{"--count", "500", "--clients", "4", "--counters", "3", "--skew", "zipf", "--read-ratio", "0.2", "--prefix", "p"},
			benchConfig{clients: 4, connections: 1, count: 500, counters: 3, zipf: true, zipfS: 0.99, readRatio: 0.2,
				keys: true, delta: 1, prefix: "p", progress: time.Second, grace: 10 * time.Second}},
		{[]string{"--duration", "2s", "--connections", "4", "--clients", "8", "--keys=false", "--delta", "-3", "--rate", "1500.5",
			"--skew", "zipf", "--zipf-s", "1.2", "--prefix", "q", "--json", "--chart", "c.svg", "--progress", "0", "--grace", "0"},
			benchConfig{clients: 8, connections: 4, duration: 2 * time.Second, counters: 1, zipf: true, zipfS: 1.2,
				delta: -3, prefix: "q", rate: 1500.5, json: true, chart: "c.svg"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := benchConfigOf(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("config = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestBenchRefusesBadFlags runs the command line against an address where
// nothing listens: each mistake is found before any call.
func TestBenchRefusesBadFlags(t *testing.T) {
	addr := closedPort(t)
	const usage = "usage: tally [global flags] bench [--duration D | --count N] [FLAGS]\n"
	missingDir := filepath.Join(t.TempDir(), "missing", "chart.svg")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no clients", []string{"--clients", "0"}, `--clients "0" must be an integer from 1 to 10,000`},
		{"clients not a number", []string{"--clients", "many"}, `--clients "many" must be an integer from 1 to 10,000`},
		{"too many clients", []string{"--clients", "10001"}, `--clients "10001" must be an integer from 1 to 10,000`},
		{"no connections", []string{"--connections", "0"}, `--connections "0" must be an integer from 1 to 10,000`},
		{"more connections than clients", []string{"--clients", "2", "--connections", "3"},
			"--connections 3 is more than --clients 2: each connection needs a caller"},
		{"duration and count", []string{"--duration", "1s", "--count", "5"}, "--duration and --count exclude each other: give one of them"},
		{"zero duration", []string{"--duration", "0s"}, "--duration 0s must be positive"},
		{"negative duration", []string{"--duration", "-1s"}, "--duration -1s must be positive"},
		{"duration without a unit", []string{"--duration", "10"}, `invalid value "10" for flag --duration: want a duration such as 500ms, 10s or 1m`},
		{"zero count", []string{"--count", "0"}, `--count "0" must be an integer from 1 to 9,223,372,036,854,775,807`},
		{"count with a fraction", []string{"--count", "1.5"}, `--count "1.5" must be an integer from 1 to 9,223,372,036,854,775,807`},
		{"no counters", []string{"--counters", "0"}, `--counters "0" must be an integer from 1 to 100,000`},
		{"unknown skew", []string{"--skew", "pareto"}, `--skew "pareto" must be uniform or zipf`},
		{"zipf-s without zipf", []string{"--zipf-s", "1.1"}, "--zipf-s applies only with --skew zipf"},
		{"zipf-s zero", []string{"--skew", "zipf", "--zipf-s", "0"}, "--zipf-s must be more than 0 (0 would be uniform: use --skew uniform)"},
		{"zipf-s negative", []string{"--skew", "zipf", "--zipf-s", "-1"}, `--zipf-s "-1" must be a number from 0 to 100`},
		{"zipf-s NaN", []string{"--skew", "zipf", "--zipf-s", "NaN"}, `--zipf-s "NaN" must be a number from 0 to 100`},
		{"read ratio above 1", []string{"--read-ratio", "1.5"}, `--read-ratio "1.5" must be a number from 0 to 1`},
		{"read ratio negative", []string{"--read-ratio", "-0.1"}, `--read-ratio "-0.1" must be a number from 0 to 1`},
		{"read ratio a percentage", []string{"--read-ratio", "20%"}, `--read-ratio "20%" must be a number from 0 to 1`},
		{"zero delta", []string{"--delta", "0"}, "--delta must not be 0: increments of 0 could not show a lost or repeated increment"},
		{"huge delta", []string{"--delta", "9223372036854775807"},
			`--delta "9223372036854775807" must be an integer from -1,000,000,000 to 1,000,000,000`},
		{"negative rate", []string{"--rate", "-5"}, `--rate "-5" must be a number from 0 to 10,000,000`},
		{"infinite rate", []string{"--rate", "Inf"}, `--rate "Inf" must be a number from 0 to 10,000,000`},
		{"negative progress", []string{"--progress", "-1s"}, "--progress -1s must not be negative"},
		{"negative grace", []string{"--grace", "-1s"}, "--grace -1s must not be negative"},
		{"empty prefix", []string{"--prefix", ""}, "--prefix must not be empty"},
		{"prefix with a slash", []string{"--prefix", "a/b"}, `--prefix "a/b" must not contain "/": counter IDs cannot`},
		{"prefix not UTF-8", []string{"--prefix", "a\xff"}, "--prefix must be valid UTF-8"},
		{"long prefix", []string{"--prefix", strings.Repeat("p", 1401)},
			"--prefix is 1401 bytes long, more than the 1400 that leave room for a counter's index"},
		{"empty chart", []string{"--chart", ""}, "--chart needs a FILE name"},
		{"chart in a missing directory", []string{"--chart", missingDir}, "--chart: open " + missingDir + ": no such file or directory"},
		{"an argument", []string{"hot"}, `unexpected argument "hot"`},
		{"unknown flag", []string{"--threads", "4"}, "unknown flag --threads"},
		{"a global flag after the command", []string{"--addr", addr}, "--addr is a global flag: put it before the command (tally --addr bench ...)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runTally(context.Background(), append([]string{"--addr", addr, "bench"}, tc.args...)...)
			checkOutcome(t, got, outcome{code: exitUsage, stderr: "tally: " + tc.want + "\n" + usage})
		})
	}
}
