package main

import (
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
		{name: "PORT as on Cloud Run", env: map[string]string{"PORT": "9090"}, storage: storageEmbedded, addr: "0.0.0.0:9090"},
		{name: "--addr wins over PORT", args: []string{"--addr", "127.0.0.1:7"}, env: map[string]string{"PORT": "9090"}, storage: storageEmbedded, addr: "127.0.0.1:7"},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			cfg, err := parseConfig(tt.args, env, io.Discard)
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
			env := func(k string) string {
				if k == "GOGC" {
					return tt.gogc
				}
				return ""
			}
			cfg, err := parseConfig(tt.args, env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.GCPercent != tt.want {
				t.Fatalf("GCPercent = %d, want %d", cfg.GCPercent, tt.want)
			}
		})
	}
}
