package main

import (
	"flag"
	"net"
	"strconv"
	"time"

	"github.com/tally-dev/tally/client"
)

const (
	addrEnv        = "TALLY_ADDR"
	tokenEnv       = "TALLY_TOKEN"
	idTokenEnv     = "TALLY_ID_TOKEN"
	attemptsEnv    = "TALLY_ATTEMPTS"
	defaultAddr    = "127.0.0.1:8080"
	defaultTimeout = 10 * time.Second
)

// defaultAttempts is the client's: the CLI retries as a program using the
// client does.
var defaultAttempts = client.DefaultRetryPolicy.MaxAttempts

// globals are the flags that come before the command.
type globals struct {
	addr    string
	json    bool
	timeout time.Duration // for each request, its retries included
	// attempts bounds the attempts of each request; 1 means no retries.
	attempts int

	// Credentials, sent with every call (credentials.go).
	token   string // tally token: x-tally-token
	idToken string // Cloud Run IAM ID token: authorization: Bearer

	// Transport security.
	tls        bool   // TLS with the system's roots
	caCert     string // PEM roots instead of the system's; implies TLS
	clientCert string // PEM client certificate for mTLS, with clientKey; implies TLS
	clientKey  string
	serverName string // the name the server's certificate is verified against
	insecure   bool   // allow tokens over plaintext to a non-loopback address
}

// parseGlobals reads the global flags and returns the command and its
// arguments. getenv is injected so tests do not depend on the environment.
func parseGlobals(args []string, getenv func(string) string) (globals, []string, error) {
	g := globals{addr: defaultAddr, timeout: defaultTimeout, attempts: defaultAttempts}
	if env := getenv(addrEnv); env != "" {
		g.addr = env
	}
	if env := getenv(attemptsEnv); env != "" {
		n, err := strconv.Atoi(env)
		if err != nil {
			return g, nil, usageErrorf("$%s %q must be a whole number of attempts, at least 1", attemptsEnv, env)
		}
		g.attempts = n
	}
	g.token = getenv(tokenEnv)
	g.idToken = getenv(idTokenEnv)
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
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "deadline `D` for each request, its retries included (default 10s; 0 means none)")
	fs.IntVar(&g.attempts, "attempts", g.attempts, "send each request at most `N` times; 1 means no retries (default $"+attemptsEnv+", else "+strconv.Itoa(defaultAttempts)+")")
	// The variables are the better way: other users can see a process's arguments.
	fs.StringVar(&g.token, "token", g.token, "tally token `T`, sent as x-tally-token (default $"+tokenEnv+")")
	fs.StringVar(&g.idToken, "id-token", g.idToken, "ID token `T` for Cloud Run's IAM check, sent as authorization: Bearer (default $"+idTokenEnv+")")
	fs.BoolVar(&g.tls, "tls", g.tls, "connect with TLS, verifying the server against the system's roots")
	fs.StringVar(&g.caCert, "ca-cert", g.caCert, "verify the server against the PEM certificates in `FILE` instead (implies --tls)")
	fs.StringVar(&g.clientCert, "client-cert", g.clientCert, "present the PEM client certificate in `FILE` (mTLS; needs --client-key; implies --tls)")
	fs.StringVar(&g.clientKey, "client-key", g.clientKey, "the PEM private key of --client-cert, in `FILE`")
	fs.StringVar(&g.serverName, "server-name", g.serverName, "verify the server's certificate for `NAME` rather than the host of --addr (with TLS)")
	fs.BoolVar(&g.insecure, "insecure", g.insecure, "send tokens without TLS even to a server that is not on this machine")
	return fs
}

func (g globals) validate() error {
	if _, port, err := net.SplitHostPort(g.addr); err != nil || port == "" {
		return usageErrorf("--addr %q must be HOST:PORT", g.addr)
	}
	if g.timeout < 0 {
		return usageErrorf("--timeout %s must not be negative", g.timeout)
	}
	if g.attempts < 1 {
		return usageErrorf("--attempts (or $%s) must be at least 1, got %d", attemptsEnv, g.attempts)
	}
	if err := checkToken("--token", tokenEnv, g.token); err != nil {
		return err
	}
	if err := checkToken("--id-token", idTokenEnv, g.idToken); err != nil {
		return err
	}
	if (g.clientCert == "") != (g.clientKey == "") {
		return usageErrorf("--client-cert and --client-key go together: give both or neither")
	}
	if g.serverName != "" && !g.useTLS() {
		return usageErrorf("--server-name only applies to TLS: add --tls or --ca-cert")
	}
	return nil
}

// useTLS reports whether the connection is made with TLS: asked for, or
// implied by a flag that only means something with TLS.
func (g globals) useTLS() bool {
	return g.tls || g.caCert != "" || g.clientCert != ""
}

// isGlobalFlag reports whether name is a global flag, so that a global flag
// given after the command gets a helpful message.
func isGlobalFlag(name string) bool {
	var g globals
	return newGlobalFlagSet(&g).Lookup(name) != nil
}
