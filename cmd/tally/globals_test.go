package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseGlobals(t *testing.T) {
	env := func(addr string) func(string) string {
		return func(key string) string {
			if key == addrEnv {
				return addr
			}
			return ""
		}
	}
	tests := []struct {
		name     string
		args     []string
		envAddr  string
		want     globals
		wantRest []string
		wantErr  string
	}{
		{name: "defaults", args: []string{"list"},
			want: globals{addr: "127.0.0.1:8080", timeout: 10 * time.Second}, wantRest: []string{"list"}},
		{name: "address from the environment", args: []string{"list"}, envAddr: "tally.internal:9000",
			want: globals{addr: "tally.internal:9000", timeout: 10 * time.Second}, wantRest: []string{"list"}},
		{name: "flag beats the environment", args: []string{"--addr", "[::1]:7000", "list"}, envAddr: "tally.internal:9000",
			want: globals{addr: "[::1]:7000", timeout: 10 * time.Second}, wantRest: []string{"list"}},
		{name: "all flags", args: []string{"--json", "-timeout=1m", "--addr=h:1", "inc", "x", "--key", "k"},
			want: globals{addr: "h:1", json: true, timeout: time.Minute}, wantRest: []string{"inc", "x", "--key", "k"}},
		{name: "no deadline", args: []string{"--timeout", "0", "get"},
			want: globals{addr: "127.0.0.1:8080"}, wantRest: []string{"get"}},
		{name: "no command", args: nil,
			want: globals{addr: "127.0.0.1:8080", timeout: 10 * time.Second}},
		{name: "address without port", args: []string{"--addr", "localhost", "list"}, wantErr: `--addr "localhost" must be HOST:PORT`},
		{name: "bad address from the environment", args: []string{"list"}, envAddr: "nope", wantErr: `--addr "nope" must be HOST:PORT`},
		{name: "negative timeout", args: []string{"--timeout", "-1s", "list"}, wantErr: "--timeout -1s must not be negative"},
		{name: "bad timeout", args: []string{"--timeout", "soon", "list"},
			wantErr: `invalid value "soon" for flag --timeout: want a duration such as 500ms, 10s or 1m`},
		{name: "unknown global flag", args: []string{"--verbose", "list"}, wantErr: "unknown flag --verbose"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, rest, err := parseGlobals(tc.args, env(tc.envAddr))
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
