package main

import (
	"flag"
	"net"
	"time"
)

const (
	addrEnv        = "TALLY_ADDR"
	defaultAddr    = "127.0.0.1:8080"
	defaultTimeout = 10 * time.Second
)

// globals are the flags that come before the command.
type globals struct {
	addr    string
	json    bool
	timeout time.Duration
}

// parseGlobals reads the global flags and returns the command and its
// arguments. getenv is injected so tests do not depend on the environment.
func parseGlobals(args []string, getenv func(string) string) (globals, []string, error) {
	g := globals{addr: defaultAddr, timeout: defaultTimeout}
	if env := getenv(addrEnv); env != "" {
		g.addr = env
	}
	fs := newGlobalFlagSet(&g)
	rest, err := parseFlags(fs, args, false)
	if err != nil {
		return g, nil, err
	}
	if err := g.validate(); err != nil {
		return g, nil, err
	}
	return g, rest, nil
}

func newGlobalFlagSet(g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet("tally", flag.ContinueOnError)
	fs.StringVar(&g.addr, "addr", g.addr, "the server to call, as `HOST:PORT` (default $"+addrEnv+", else "+defaultAddr+")")
	fs.BoolVar(&g.json, "json", g.json, "print one JSON object per result, with the API's field names")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "deadline `D` for each request (default 10s; 0 means none)")
	return fs
}

func (g globals) validate() error {
	if _, port, err := net.SplitHostPort(g.addr); err != nil || port == "" {
		return usageErrorf("--addr %q must be HOST:PORT", g.addr)
	}
	if g.timeout < 0 {
		return usageErrorf("--timeout %s must not be negative", g.timeout)
	}
	return nil
}

// isGlobalFlag reports whether name is a global flag, so that a global flag
// given after the command gets a helpful message.
func isGlobalFlag(name string) bool {
	var g globals
	return newGlobalFlagSet(&g).Lookup(name) != nil
}
