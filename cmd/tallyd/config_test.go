package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		storage string
		addr    string
		wantErr string
	}{
		{name: "defaults: embedded on loopback", storage: storageEmbedded, addr: "127.0.0.1:8080"},
		{name: "PORT as on Cloud Run, insecure", env: map[string]string{"PORT": "9090", "TALLY_INSECURE": "true"}, storage: storageEmbedded, addr: "0.0.0.0:9090"},
		{name: "PORT as on Cloud Run, with tokens", env: map[string]string{"PORT": "9090", "TALLY_TOKENS_FILE": "/etc/tally/tokens.json"}, storage: storageEmbedded, addr: "0.0.0.0:9090"},
		{name: "PORT without authentication", env: map[string]string{"PORT": "9090"}, wantErr: "refusing to serve on 0.0.0.0:9090 without authentication"},
		{name: "--addr wins over PORT", args: []string{"--addr", "127.0.0.1:7"}, env: map[string]string{"PORT": "9090"}, storage: storageEmbedded, addr: "127.0.0.1:7"},
		{name: "TALLY_ADDR wins over PORT", env: map[string]string{"PORT": "9090", "TALLY_ADDR": "127.0.0.1:7"}, storage: storageEmbedded, addr: "127.0.0.1:7"},
		{name: "--addr wins over TALLY_ADDR", args: []string{"--addr", "127.0.0.1:8"}, env: map[string]string{"TALLY_ADDR": "127.0.0.1:7"}, storage: storageEmbedded, addr: "127.0.0.1:8"},
		{name: "TALLY_PROJECT, even empty, wins over GOOGLE_CLOUD_PROJECT", env: map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "TALLY_PROJECT": ""}, storage: storageEmbedded, addr: "127.0.0.1:8080"},
		{name: "TALLY_STORAGE", env: map[string]string{"TALLY_STORAGE": "embedded", "GOOGLE_CLOUD_PROJECT": "p"}, storage: storageEmbedded, addr: "127.0.0.1:8080"},
		{name: "emulator host", env: map[string]string{"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8081"}, storage: storageEmulator, addr: "127.0.0.1:8080"},
		{name: "emulator host beats project", env: map[string]string{"FIRESTORE_EMULATOR_HOST": "h:1", "GOOGLE_CLOUD_PROJECT": "p"}, storage: storageEmulator, addr: "127.0.0.1:8080"},
		{name: "project means Firestore", env: map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}, storage: storageFirestore, addr: "127.0.0.1:8080"},
		{name: "--project flag", args: []string{"--project", "p"}, storage: storageFirestore, addr: "127.0.0.1:8080"},
		{name: "forced embedded despite a project", args: []string{"--storage", "embedded", "--project", "p"}, storage: storageEmbedded, addr: "127.0.0.1:8080"},
		{name: "firestore without project", args: []string{"--storage", "firestore"}, wantErr: "needs --project"},
		{name: "firestore with an emulator host", args: []string{"--storage", "firestore", "--project", "p"}, env: map[string]string{"FIRESTORE_EMULATOR_HOST": "h:1"}, wantErr: "unset it"},
		{name: "emulator without host", args: []string{"--storage", "emulator"}, wantErr: "needs FIRESTORE_EMULATOR_HOST"},
		{name: "unknown storage", args: []string{"--storage", "s3"}, wantErr: "want embedded"},
		{name: "bad addr", args: []string{"--addr", "nope"}, wantErr: "--addr"},
		{name: "too many shards", args: []string{"--default-shards", "1001"}, wantErr: "--default-shards"},
		{name: "zero shards", args: []string{"--default-shards", "0"}, wantErr: "--default-shards"},
		{name: "short key retention", args: []string{"--key-retention", "1s"}, wantErr: "--key-retention"},
		{name: "bad max-in-flight", args: []string{"--max-in-flight", "0"}, wantErr: "--max-in-flight"},
		{name: "negative gc percent", args: []string{"--gc-percent", "-1"}, wantErr: "--gc-percent"},
		{name: "empty data dir", args: []string{"--data-dir", ""}, wantErr: "--data-dir"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "bad environment value", env: map[string]string{"TALLY_MAX_BATCH": "lots"}, wantErr: "TALLY_MAX_BATCH"},
		{name: "bad environment bool", env: map[string]string{"TALLY_LOG_JSON": "sometimes"}, wantErr: "TALLY_LOG_JSON"},
		{name: "empty environment value of a number", env: map[string]string{"TALLY_MAX_BATCH": ""}, wantErr: "TALLY_MAX_BATCH"},
		{name: "bad environment value on the command line too", args: []string{"--max-batch", "7"}, env: map[string]string{"TALLY_MAX_BATCH": "lots"}, storage: storageEmbedded, addr: "127.0.0.1:8080"},
		{name: "bad admin addr", args: []string{"--admin-addr", "nope"}, wantErr: "--admin-addr"},
		{name: "admin listener disabled", args: []string{"--admin-addr", ""}, storage: storageEmbedded, addr: "127.0.0.1:8080"},
		{name: "message size too small", args: []string{"--max-message-bytes", "1023"}, wantErr: "--max-message-bytes"},
		{name: "message size too large", args: []string{"--max-message-bytes", "67108865"}, wantErr: "--max-message-bytes"},
		{name: "no batch names", args: []string{"--max-batch-names", "0"}, wantErr: "--max-batch-names"},
		{name: "batch names above the API", args: []string{"--max-batch-names", "501"}, wantErr: "--max-batch-names"},
		{name: "zero default deadline", args: []string{"--default-deadline", "0"}, wantErr: "--default-deadline"},
		{name: "default deadline of a day", args: []string{"--default-deadline", "24h"}, wantErr: "--default-deadline"},
		{name: "no concurrent calls", args: []string{"--max-concurrent-calls", "0"}, wantErr: "--max-concurrent-calls"},
		{name: "too many concurrent calls", args: []string{"--max-concurrent-calls", "1048577"}, wantErr: "--max-concurrent-calls"},
		{name: "keepalive below a second", args: []string{"--keepalive-min-time", "500ms"}, wantErr: "--keepalive-min-time"},
		{name: "health interval too short", args: []string{"--health-interval", "1ms"}, wantErr: "--health-interval"},
		{name: "adaptive max below min", args: []string{"--adaptive-min-shards", "8", "--adaptive-max-shards", "4"}, wantErr: "--adaptive-max-shards"},
		{name: "adaptive min of zero", args: []string{"--adaptive-min-shards", "0"}, wantErr: "--adaptive-min-shards"},
		{name: "adaptive step of one", args: []string{"--adaptive-step", "1"}, wantErr: "--adaptive-step"},
		{name: "adaptive window too short", args: []string{"--adaptive-window", "1ms"}, wantErr: "--adaptive-window"},
		{name: "adaptive cooldown of zero", args: []string{"--adaptive-cooldown", "0"}, wantErr: "--adaptive-cooldown"},
		{name: "health interval too long", args: []string{"--health-interval", "2h"}, wantErr: "--health-interval"},
		{name: "TLS certificate without key", args: []string{"--tls-cert", "c.pem"}, wantErr: "--tls-cert and --tls-key"},
		{name: "TLS key without certificate", args: []string{"--tls-key", "k.pem"}, wantErr: "--tls-cert and --tls-key"},
		{name: "client CA without TLS", args: []string{"--client-ca", "ca.pem"}, wantErr: "--client-ca needs --tls-cert"},
		{name: "TLS with a client CA", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--client-ca", "ca.pem"}, storage: storageEmbedded, addr: "127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envMap(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Storage != tt.storage || cfg.Addr != tt.addr {
				t.Fatalf("storage %q on %q, want %q on %q", cfg.Storage, cfg.Addr, tt.storage, tt.addr)
			}
		})
	}
}

// TestNonLoopbackNeedsAuthentication: a listen address others can reach needs a tokens file, a
// client CA or --insecure.
func TestNonLoopbackNeedsAuthentication(t *testing.T) {
	tls := []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}
	tests := []struct {
		addr   string
		extra  []string
		env    map[string]string
		refuse bool
	}{
		{addr: "127.0.0.1:8080"},
		{addr: "127.0.0.2:8080"},
		{addr: "[::1]:8080"},
		{addr: "localhost:8080"},
		{addr: "LOCALHOST:8080"},
		{addr: "0.0.0.0:8080", refuse: true},
		{addr: ":8080", refuse: true},
		{addr: "[::]:8080", refuse: true},
		{addr: "10.1.2.3:8080", refuse: true},
		{addr: "[fe80::1%eth0]:8080", refuse: true},
		{addr: "tally.example.com:8080", refuse: true},
		{addr: "0.0.0.0:8080", extra: tls, refuse: true}, // TLS alone says nothing of who calls
		{addr: "0.0.0.0:8080", extra: []string{"--insecure"}},
		{addr: "0.0.0.0:8080", env: map[string]string{"TALLY_INSECURE": "true"}},
		{addr: "0.0.0.0:8080", extra: []string{"--insecure=false"}, env: map[string]string{"TALLY_INSECURE": "true"}, refuse: true},
		{addr: "0.0.0.0:8080", extra: []string{"--tokens-file", "tokens.json"}},
		{addr: "0.0.0.0:8080", extra: append([]string{"--client-ca", "ca.pem"}, tls...)},
	}
	for _, tt := range tests {
		args := append([]string{"--addr", tt.addr}, tt.extra...)
		t.Run(strings.Join(args, " ")+fmt.Sprint(tt.env), func(t *testing.T) {
			_, err := parseConfig(args, envMap(tt.env), io.Discard)
			switch {
			case tt.refuse && (err == nil || !strings.Contains(err.Error(), "without authentication")):
				t.Fatalf("got %v, want a refusal to serve without authentication", err)
			case tt.refuse && !strings.Contains(err.Error(), "--tokens-file") || tt.refuse && !strings.Contains(err.Error(), "--insecure"):
				t.Fatalf("the refusal %q does not say what to do", err)
			case !tt.refuse && err != nil:
				t.Fatal(err)
			}
		})
	}
}

// TestRunRefusesCloudRunWithoutAuthentication: on Cloud Run (PORT set) without a tokens file,
// client CA or --insecure, tallyd does not start.
func TestRunRefusesCloudRunWithoutAuthentication(t *testing.T) {
	t.Parallel()
	ready := make(chan listening, 1)
	env := envMap(map[string]string{"PORT": "0", "K_SERVICE": "tally", "TALLY_ADMIN_ADDR": ""})
	err := run(t.Context(), []string{"--data-dir", t.TempDir()}, env, io.Discard, io.Discard, ready)
	if err == nil || !strings.Contains(err.Error(), "refusing to serve on 0.0.0.0:0 without authentication") {
		t.Fatalf("run = %v, want the refusal", err)
	}
	select {
	case at := <-ready:
		t.Fatalf("tallyd served on %v", at)
	default:
	}
}

func TestGCPercentDefersToGOGC(t *testing.T) {
	tests := []struct {
		name string
		args []string
		gogc string
		want int
	}{
		{name: "default", want: defaultGCPercent},
		{name: "GOGC set: keep the runtime's", gogc: "200", want: 0},
		{name: "flag wins", args: []string{"--gc-percent", "150"}, gogc: "200", want: 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envMap(map[string]string{"GOGC": tt.gogc}), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.GCPercent != tt.want {
				t.Fatalf("GCPercent = %d, want %d", cfg.GCPercent, tt.want)
			}
		})
	}
}
