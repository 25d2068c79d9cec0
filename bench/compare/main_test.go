package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	defaults := config{duration: 5 * time.Second, warmup: time.Second, clients: []int{1, 16, 64}, systems: allSystems,
		throughput: true, crash: true}
	tests := []struct {
		name    string
		args    []string
		want    func(c *config) // changes to the defaults
		wantErr string          // in the error; "" for none
	}{
		{"defaults", nil, func(*config) {}, ""},
		{"clients", []string{"-clients", "4, 32"}, func(c *config) { c.clients = []int{4, 32} }, ""},
		{"one client", []string{"-clients", "1"}, func(c *config) { c.clients = []int{1} }, ""},
		{"zero clients", []string{"-clients", "1,0"}, nil, `-clients: "0" is not a positive number`},
		{"negative clients", []string{"-clients", "-3"}, nil, `-clients: "-3" is not a positive number`},
		{"clients not a number", []string{"-clients", "16,many"}, nil, `-clients: "many" is not a positive number`},
		{"no clients", []string{"-clients", ""}, nil, `-clients: "" is not a positive number`},
		{"an empty entry in clients", []string{"-clients", "1,,2"}, nil, `-clients: "" is not a positive number`},
		{"systems", []string{"-systems", "eventlog, memcached"}, func(c *config) { c.systems = []string{"eventlog", "memcached"} }, ""},
		{"unknown system", []string{"-systems", "sqlite,oracle"}, nil, `-systems: unknown "oracle" (known: tallyd-keys, tallyd,`},
		{"no systems", []string{"-systems", ""}, nil, `-systems: unknown ""`},
		{"throughput half", []string{"-half", "throughput"}, func(c *config) { c.crash = false }, ""},
		{"durability half", []string{"-half", "durability"}, func(c *config) { c.throughput = false }, ""},
		{"both halves", []string{"-half", "both"}, func(*config) {}, ""},
		{"unknown half", []string{"-half", "first"}, nil, `-half: "first" is not throughput, durability or both`},
		{"duration", []string{"-duration", "2s", "-warmup", "0s"}, func(c *config) { c.duration, c.warmup = 2*time.Second, 0 }, ""},
		{"zero duration", []string{"-duration", "0s"}, nil, "-duration 0s is not positive"},
		{"negative duration", []string{"-duration", "-1s"}, nil, "-duration -1s is not positive"},
		{"duration without a unit", []string{"-duration", "5"}, nil, `invalid value "5" for flag -duration`},
		{"negative warm-up", []string{"-warmup", "-1ms"}, nil, "-warmup -1ms is negative"},
		{"arguments", []string{"-half", "both", "extra"}, nil, `unexpected arguments ["extra"]`},
		{"unknown flag", []string{"-verbose"}, nil, "flag provided but not defined: -verbose"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want an error with %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tc.args, err)
			}
			want := defaults
			want.clients, want.systems = slices.Clone(defaults.clients), slices.Clone(defaults.systems)
			tc.want(&want)
			if got.duration != want.duration || got.warmup != want.warmup || !slices.Equal(got.clients, want.clients) ||
				!slices.Equal(got.systems, want.systems) || got.throughput != want.throughput || got.crash != want.crash {
				t.Errorf("parseFlags(%q) = %+v, want %+v", tc.args, got, want)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		t.Parallel()
		var out strings.Builder
		if _, err := parseFlags([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("-h: %v, want flag.ErrHelp", err)
		}
		// The help lists every store under -systems.
		if !strings.Contains(out.String(), strings.Join(allSystems, ",")) {
			t.Errorf("-h does not list the stores %v:\n%s", allSystems, out.String())
		}
	})
}

func TestNotes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ran       []string
		want, not []string // in the notes, and not
	}{
		{"tallyd with keys only", []string{"tallyd-keys"}, []string{"same idempotency key"}, []string{"Plain retries", "Memcached keeps nothing"}},
		{"the event log", []string{"eventlog"}, []string{"Plain retries (tallyd without keys, Redis, PostgreSQL, SQLite, the JSON file, the event log)"}, []string{"Redis everysec:"}},
		{"Redis everysec", []string{"redis-everysec"}, []string{"Redis everysec: Redis writes", "Plain retries"}, []string{"Memcached keeps nothing"}},
		{"Memcached", []string{"memcached"}, []string{"Memcached keeps nothing"}, []string{"Plain retries", "same idempotency key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all := strings.Join(notes(tc.ran), "\n")
			for _, w := range append(tc.want, "lost is acknowledged − final value", "A process kill is not a power cut") {
				if !strings.Contains(all, w) {
					t.Errorf("notes for %v lack %q:\n%s", tc.ran, w, all)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(all, n) {
					t.Errorf("notes for %v have %q:\n%s", tc.ran, n, all)
				}
			}
		})
	}
}
