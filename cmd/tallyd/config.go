package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/tally-dev/tally/shard"
)

// Storage modes, chosen from the environment unless --storage says otherwise.
const (
	storageEmbedded  = "embedded"  // an in-process durable emulator under DataDir
	storageEmulator  = "emulator"  // an external emulator at FIRESTORE_EMULATOR_HOST
	storageFirestore = "firestore" // Cloud Firestore with Application Default Credentials
)

// Config is everything tallyd reads from flags and the environment.
type Config struct {
	Addr            string // listen address
	Storage         string // one of the storage modes
	DataDir         string // embedded mode: where the emulator keeps its data
	EmulatorHost    string // emulator mode: FIRESTORE_EMULATOR_HOST
	Project         string // Firestore project (required for firestore mode)
	Database        string // Firestore database id
	DefaultShards   int
	MaxBatch        int
	MaxInFlight     int
	KeyRetention    time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	LogJSON         bool
	// GCPercent is the Go garbage collector's target (as GOGC); 0 leaves the runtime's setting.
	GCPercent int
}

// Upper bounds of --max-batch and --max-in-flight. The store takes any positive value; tallyd
// bounds its flags to refuse an obviously mistaken one.
const (
	maxMaxBatch    = 10_000
	maxMaxInFlight = 64
)

// defaultGCPercent lets the heap grow to five times its live size between collections. tallyd's
// live heap is small (tens of MB) and a hot counter allocates per call, so the runtime's default
// of 100 spends a large share of the CPU collecting.
const defaultGCPercent = 400

// getenv is os.Getenv; a parameter so that tests control the environment.
type getenv func(string) string

// parseConfig reads flags, falling back to the environment: PORT (as on Cloud Run: listen on
// 0.0.0.0:$PORT), FIRESTORE_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT, TALLY_DATABASE.
func parseConfig(args []string, env getenv, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("tallyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultAddr := "127.0.0.1:8080"
	if port := env("PORT"); port != "" {
		defaultAddr = net.JoinHostPort("0.0.0.0", port)
	}
	fs.StringVar(&c.Addr, "addr", defaultAddr, "address to serve gRPC on (default 127.0.0.1:8080, or 0.0.0.0:$PORT when PORT is set)")
	fs.StringVar(&c.Storage, "storage", "", "embedded, emulator or firestore (default: emulator if FIRESTORE_EMULATOR_HOST is set, else firestore if a project is set, else embedded)")
	fs.StringVar(&c.DataDir, "data-dir", "./tally-data", "embedded storage: data directory")
	fs.StringVar(&c.Project, "project", env("GOOGLE_CLOUD_PROJECT"), "Firestore project id (default $GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&c.Database, "database", orDefault(env("TALLY_DATABASE"), "(default)"), "Firestore database id (default $TALLY_DATABASE or (default))")
	fs.IntVar(&c.DefaultShards, "default-shards", shard.DefaultShards, "shard count of counters created implicitly")
	fs.IntVar(&c.MaxBatch, "max-batch", shard.DefaultMaxBatch, "most increments of one counter coalesced into one commit")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", shard.DefaultMaxInFlight, "most commits of one counter in flight at once; more than one only while a full batch waits")
	fs.DurationVar(&c.KeyRetention, "key-retention", shard.DefaultKeyRetention, "how long idempotency keys are remembered")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on shutdown, how long the increments in flight may take to commit; the calls then get "+answerGrace.String()+" more to send their answers before they are cut off")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.BoolVar(&c.LogJSON, "log-json", env("K_SERVICE") != "", "log JSON lines (default on Cloud Run)")
	gcDefault := defaultGCPercent
	if env("GOGC") != "" {
		gcDefault = 0 // the runtime has read GOGC already
	}
	fs.IntVar(&c.GCPercent, "gc-percent", gcDefault, "garbage collector target as in GOGC; 0 keeps the runtime's (default 400 unless GOGC is set)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.EmulatorHost = env("FIRESTORE_EMULATOR_HOST")
	if c.Storage == "" {
		switch {
		case c.EmulatorHost != "":
			c.Storage = storageEmulator
		case c.Project != "":
			c.Storage = storageFirestore
		default:
			c.Storage = storageEmbedded
		}
	}
	return c, c.Validate()
}

// Validate reports the first problem with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	switch c.Storage {
	case storageEmbedded:
		if c.DataDir == "" {
			return errors.New("--data-dir must not be empty with embedded storage")
		}
	case storageEmulator:
		if c.EmulatorHost == "" {
			return errors.New("--storage=emulator needs FIRESTORE_EMULATOR_HOST")
		}
	case storageFirestore:
		if c.Project == "" {
			return errors.New("--storage=firestore needs --project or GOOGLE_CLOUD_PROJECT")
		}
		if c.EmulatorHost != "" {
			return errors.New("--storage=firestore with FIRESTORE_EMULATOR_HOST set would talk to the emulator; unset it")
		}
	default:
		return fmt.Errorf("--storage %q: want embedded, emulator or firestore", c.Storage)
	}
	if c.Database == "" {
		return errors.New("--database must not be empty")
	}
	if c.DefaultShards < 1 || c.DefaultShards > shard.MaxShards {
		return fmt.Errorf("--default-shards %d is out of range 1..%d", c.DefaultShards, shard.MaxShards)
	}
	if c.MaxBatch < 1 || c.MaxBatch > maxMaxBatch {
		return fmt.Errorf("--max-batch %d is out of range 1..%d", c.MaxBatch, maxMaxBatch)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > maxMaxInFlight {
		return fmt.Errorf("--max-in-flight %d is out of range 1..%d", c.MaxInFlight, maxMaxInFlight)
	}
	if c.KeyRetention < time.Minute {
		return fmt.Errorf("--key-retention %s is below the minimum of 1m", c.KeyRetention)
	}
	if c.GCPercent < 0 {
		return fmt.Errorf("--gc-percent %d must not be negative", c.GCPercent)
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout must be positive")
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
