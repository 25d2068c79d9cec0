package main

import (
	"slices"
	"testing"
	"time"

	"github.com/tally-dev/tally/client"
)

// clientAttempts is the client's default, which the CLI's must be.
var clientAttempts = client.DefaultRetryPolicy.MaxAttempts

func TestParseGlobals(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		envAddr  string
		env      map[string]string // more of the environment
		want     globals
		wantRest []string
		wantErr  string
	}{
		{name: "defaults", args: []string{"list"},
			want: globals{addr: "127.0.0.1:8080", timeout: 10 * time.Second, attempts: clientAttempts}, wantRest: []string{"list"}},
		{name: "address from the environment", args: []string{"list"}, envAddr: "tally.internal:9000",
			want: globals{addr: "tally.internal:9000", timeout: 10 * time.Second, attempts: clientAttempts}, wantRest: []string{"list"}},
		{name: "flag beats the environment", args: []string{"--addr", "[::1]:7000", "list"}, envAddr: "tally.internal:9000",
			want: globals{addr: "[::1]:7000", timeout: 10 * time.Second, attempts: clientAttempts}, wantRest: []string{"list"}},
		{name: "all flags", args: []string{"--json", "-timeout=1m", "--addr=h:1", "inc", "x", "--key", "k"},
			want: globals{addr: "h:1", json: true, timeout: time.Minute, attempts: clientAttempts}, wantRest: []string{"inc", "x", "--key", "k"}},
		{name: "no deadline", args: []string{"--timeout", "0", "get"},
			want: globals{addr: "127.0.0.1:8080", attempts: clientAttempts}, wantRest: []string{"get"}},
		{name: "no command", args: nil,
			want: globals{addr: "127.0.0.1:8080", timeout: 10 * time.Second, attempts: clientAttempts}},
		{name: "attempts", args: []string{"--attempts", "3", "inc", "x"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: 3}, wantRest: []string{"inc", "x"}},
		{name: "attempts from the environment", args: []string{"get"}, env: map[string]string{attemptsEnv: "1"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: 1}, wantRest: []string{"get"}},
		{name: "attempts flag beats the environment", args: []string{"--attempts=4", "get"}, env: map[string]string{attemptsEnv: "1"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: 4}, wantRest: []string{"get"}},
		{name: "zero attempts", args: []string{"--attempts", "0", "get"}, wantErr: "--attempts (or $TALLY_ATTEMPTS) must be at least 1, got 0"},
		{name: "negative attempts from the environment", args: []string{"get"}, env: map[string]string{attemptsEnv: "-1"},
			wantErr: "--attempts (or $TALLY_ATTEMPTS) must be at least 1, got -1"},
		{name: "attempts not a number", args: []string{"--attempts", "many", "get"},
			wantErr: `invalid value "many" for flag --attempts: want a whole number`},
		{name: "attempts from the environment not a number", args: []string{"get"}, env: map[string]string{attemptsEnv: "ten"},
			wantErr: `$TALLY_ATTEMPTS "ten" must be a whole number of attempts, at least 1`},
		{name: "address without port", args: []string{"--addr", "localhost", "list"}, wantErr: `--addr "localhost" must be HOST:PORT`},
		{name: "bad address from the environment", args: []string{"list"}, envAddr: "nope", wantErr: `--addr "nope" must be HOST:PORT`},
		{name: "negative timeout", args: []string{"--timeout", "-1s", "list"}, wantErr: "--timeout -1s must not be negative"},
		{name: "bad timeout", args: []string{"--timeout", "soon", "list"},
			wantErr: `invalid value "soon" for flag --timeout: want a duration such as 500ms, 10s or 1m`},
		{name: "unknown global flag", args: []string{"--verbose", "list"}, wantErr: "unknown flag --verbose"},
		{name: "tokens from the environment", args: []string{"get"}, env: map[string]string{tokenEnv: "tly_a", idTokenEnv: "ey.b.c"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: clientAttempts, token: "tly_a", idToken: "ey.b.c"}, wantRest: []string{"get"}},
		{name: "token flags beat the environment", args: []string{"--token", "tly_x", "--id-token=ey.y", "get"},
			env:  map[string]string{tokenEnv: "tly_a", idTokenEnv: "ey.b.c"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: clientAttempts, token: "tly_x", idToken: "ey.y"}, wantRest: []string{"get"}},
		{name: "TLS flags", args: []string{"--tls", "--ca-cert", "ca.pem", "--client-cert", "c.pem", "--client-key", "k.pem", "--server-name", "tally.internal", "--insecure", "get"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: clientAttempts, tls: true, caCert: "ca.pem", clientCert: "c.pem", clientKey: "k.pem",
				serverName: "tally.internal", insecure: true}, wantRest: []string{"get"}},
		{name: "server name with a CA file", args: []string{"--ca-cert", "ca.pem", "--server-name", "n", "get"},
			want: globals{addr: defaultAddr, timeout: defaultTimeout, attempts: clientAttempts, caCert: "ca.pem", serverName: "n"}, wantRest: []string{"get"}},
		{name: "client certificate without key", args: []string{"--client-cert", "c.pem", "get"},
			wantErr: "--client-cert and --client-key go together: give both or neither"},
		{name: "client key without certificate", args: []string{"--client-key", "k.pem", "get"},
			wantErr: "--client-cert and --client-key go together: give both or neither"},
		{name: "server name without TLS", args: []string{"--server-name", "n", "get"},
			wantErr: "--server-name only applies to TLS: add --tls or --ca-cert"},
		{name: "token with a newline", args: []string{"--token", "tly_a\n", "get"},
			wantErr: "--token (or $TALLY_TOKEN) has a space, control or non-ASCII character at byte 5, which a token sent in gRPC metadata cannot contain"},
		{name: "ID token with a space from the environment", args: []string{"get"}, env: map[string]string{idTokenEnv: "Bearer ey"},
			wantErr: "--id-token (or $TALLY_ID_TOKEN) has a space, control or non-ASCII character at byte 6, which a token sent in gRPC metadata cannot contain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := func(key string) string {
				if key == addrEnv {
					return tc.envAddr
				}
				return tc.env[key]
			}
			got, rest, err := parseGlobals(tc.args, env)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseGlobals: %v", err)
			}
			if got != tc.want {
				t.Errorf("globals = %+v, want %+v", got, tc.want)
			}
			if !slices.Equal(rest, tc.wantRest) {
				t.Errorf("rest = %q, want %q", rest, tc.wantRest)
			}
		})
	}
}
