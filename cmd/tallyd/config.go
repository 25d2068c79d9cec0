package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/tally-dev/tally/shard"
)

// Storage modes, chosen from the environment unless --storage says otherwise.
const (
	storageEmbedded  = "embedded"  // an in-process durable emulator under DataDir
	storageEmulator  = "emulator"  // an external emulator at FIRESTORE_EMULATOR_HOST
	storageFirestore = "firestore" // Cloud Firestore with Application Default Credentials
)

// Config is everything tallyd reads from flags and the environment (flags.go defines them).
//
// The log tag names each field in the configuration line logged at start (configlog.go): the
// flag's name with underscores for a field set by a flag. A field tagged ",secret" is logged as
// redacted; every field that holds a credential itself, rather than the path of a file holding
// one, must be tagged so (a test checks the names that suggest one).
type Config struct {
	Addr            string        `log:"addr"`          // gRPC listen address
	Storage         string        `log:"storage"`       // one of the storage modes
	DataDir         string        `log:"data_dir"`      // embedded mode: where the emulator keeps its data
	EmulatorHost    string        `log:"emulator_host"` // emulator mode: FIRESTORE_EMULATOR_HOST
	Project         string        `log:"project"`       // Firestore project (required for firestore mode)
	Database        string        `log:"database"`      // Firestore database id
	DefaultShards   int           `log:"default_shards"`
	MaxBatch        int           `log:"max_batch"`
	MaxInFlight     int           `log:"max_in_flight"`
	KeyRetention    time.Duration `log:"key_retention"`
	ShutdownTimeout time.Duration `log:"shutdown_timeout"`
	LogLevel        slog.Level    `log:"log_level"`
	LogJSON         logFormat     `log:"log_json"` // JSON, text, or auto (log.go)
	// GCPercent is the Go garbage collector's target (as GOGC); 0 leaves the runtime's setting.
	GCPercent int `log:"gc_percent"`

	// AdminAddr is the HTTP listener of /healthz, /readyz and /metrics; empty disables it.
	AdminAddr string `log:"admin_addr"`

	// Authentication and transport security.
	TokensFile string `log:"tokens_file"` // bearer-token policy file
	TLSCert    string `log:"tls_cert"`    // PEM certificate chain: serve gRPC over TLS
	TLSKey     string `log:"tls_key"`     // PEM private key of TLSCert (a path, not the key)
	ClientCA   string `log:"client_ca"`   // PEM bundle that client certificates are verified against
	// Insecure allows a non-loopback Addr with neither TokensFile nor ClientCA.
	Insecure bool `log:"insecure"`

	// Limits.
	MaxMessageBytes    int           `log:"max_message_bytes"`    // largest request message
	MaxBatchNames      int           `log:"max_batch_names"`      // most names in one batch call
	DefaultDeadline    time.Duration `log:"default_deadline"`     // given to calls without one
	MaxConcurrentCalls int           `log:"max_concurrent_calls"` // more are shed
	KeepaliveMinTime   time.Duration `log:"keepalive_min_time"`   // clients pinging more often are cut off
	HealthInterval     time.Duration `log:"health_interval"`      // Firestore reachability probes

	// Adaptive shard counts.
	AdaptiveMinShards int           `log:"adaptive_min_shards"`
	AdaptiveMaxShards int           `log:"adaptive_max_shards"`
	AdaptiveStep      int           `log:"adaptive_step"`
	AdaptiveWindow    time.Duration `log:"adaptive_window"`
	AdaptiveCooldown  time.Duration `log:"adaptive_cooldown"`

	// WatchCounter.
	WatchInterval    time.Duration `log:"watch_interval"`     // least time between updates, by default
	MinWatchInterval time.Duration `log:"min_watch_interval"` // least time between updates a client may ask for
	MaxWatches       int           `log:"max_watches"`        // more are refused
	// MaxWatchedCounters bounds the counters watched at once, each with two Firestore listeners.
	MaxWatchedCounters int `log:"max_watched_counters"`
}

// Bounds of the flags. The libraries take wider values; tallyd bounds its flags to refuse an
// obviously mistaken one.
const (
	maxMaxBatch    = 10_000
	maxMaxInFlight = 64
	// No valid request comes near 4 MiB (the longest BatchIncrement is under 1 MiB), and a
	// Firestore commit is at most 10 MiB: a larger limit only lets a client make tallyd buffer
	// more.
	minMaxMessageBytes = 1 << 10
	maxMaxMessageBytes = 64 << 20
	maxDefaultDeadline = time.Hour
	// Each call in progress holds a goroutine and its request; a million of them is a mistake.
	maxMaxConcurrentCalls = 1 << 20
	minKeepaliveMinTime   = time.Second
	maxKeepaliveMinTime   = 24 * time.Hour
	// Below ten milliseconds the prober would be a load of its own on Firestore.
	minHealthInterval = 10 * time.Millisecond
	maxHealthInterval = time.Hour
	// A shard count grows at least twofold per decision; more than tenfold skips the counts between.
	maxAdaptiveStep = 10
	// A window below 100ms judges a handful of commits; one beyond an hour, or a cooldown beyond a
	// day, would never adapt.
	minAdaptiveWindow   = 100 * time.Millisecond
	maxAdaptiveWindow   = time.Hour
	minAdaptiveCooldown = time.Second
	maxAdaptiveCooldown = 24 * time.Hour
	// Each watch holds a goroutine, a stream and a slot for its latest update, a few KiB.
	defaultMaxWatches = 10_000
	maxMaxWatches     = 1 << 20
	// Below a millisecond the coalescing would not coalesce; an hour between updates is no watch.
	minWatchInterval = time.Millisecond
	maxWatchInterval = time.Hour
)

// parseConfig reads flags, then the TALLY_* variable of every flag not on the command line (see
// applyEnv), and the storage mode from the environment.
func parseConfig(args []string, env lookupEnv, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := newFlagSet(c, env)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := applyEnv(fs, env); err != nil {
		return nil, err
	}
	c.EmulatorHost = legacyEnv(env, "FIRESTORE_EMULATOR_HOST")
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

// Validate reports the first problem with the configuration. Whether the files it names exist is
// checked when they are opened.
func (c *Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return fmt.Errorf("--admin-addr %q: %w", c.AdminAddr, err)
		}
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
	ranges := []struct {
		flag      string
		v, lo, hi int64
	}{
		{"default-shards", int64(c.DefaultShards), 1, shard.MaxShards},
		{"max-batch", int64(c.MaxBatch), 1, maxMaxBatch},
		{"max-in-flight", int64(c.MaxInFlight), 1, maxMaxInFlight},
		{"max-message-bytes", int64(c.MaxMessageBytes), minMaxMessageBytes, maxMaxMessageBytes},
		{"max-batch-names", int64(c.MaxBatchNames), 1, shard.MaxBatchDeltas},
		{"max-concurrent-calls", int64(c.MaxConcurrentCalls), 1, maxMaxConcurrentCalls},
		{"max-watches", int64(c.MaxWatches), 1, maxMaxWatches},
		{"max-watched-counters", int64(c.MaxWatchedCounters), 1, maxMaxWatches},
		{"adaptive-min-shards", int64(c.AdaptiveMinShards), 1, shard.MaxShards},
		{"adaptive-max-shards", int64(c.AdaptiveMaxShards), int64(max(c.AdaptiveMinShards, 1)), shard.MaxShards},
		{"adaptive-step", int64(c.AdaptiveStep), 2, maxAdaptiveStep},
	}
	for _, r := range ranges {
		if r.v < r.lo || r.v > r.hi {
			return fmt.Errorf("--%s %d is out of range %d..%d", r.flag, r.v, r.lo, r.hi)
		}
	}
	durations := []struct {
		flag      string
		v, lo, hi time.Duration
	}{
		{"default-deadline", c.DefaultDeadline, time.Millisecond, maxDefaultDeadline},
		{"keepalive-min-time", c.KeepaliveMinTime, minKeepaliveMinTime, maxKeepaliveMinTime},
		{"health-interval", c.HealthInterval, minHealthInterval, maxHealthInterval},
		{"watch-interval", c.WatchInterval, minWatchInterval, maxWatchInterval},
		{"min-watch-interval", c.MinWatchInterval, minWatchInterval, maxWatchInterval},
		{"adaptive-window", c.AdaptiveWindow, minAdaptiveWindow, maxAdaptiveWindow},
		{"adaptive-cooldown", c.AdaptiveCooldown, minAdaptiveCooldown, maxAdaptiveCooldown},
	}
	for _, d := range durations {
		if d.v < d.lo || d.v > d.hi {
			return fmt.Errorf("--%s %s is out of range %s..%s", d.flag, d.v, d.lo, d.hi)
		}
	}
	if c.MinWatchInterval > c.WatchInterval {
		return fmt.Errorf("--min-watch-interval %s is above --watch-interval %s", c.MinWatchInterval, c.WatchInterval)
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both to serve TLS, or neither")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return errors.New("--client-ca needs --tls-cert and --tls-key: client certificates are verified in the TLS handshake")
	}
	if !c.Insecure && c.TokensFile == "" && c.ClientCA == "" && !isLoopback(host) {
		return fmt.Errorf("refusing to serve on %s without authentication: it is not a loopback address, so anyone who "+
			"can reach it could read, change, reset and delete every counter. Give --tokens-file (TALLY_TOKENS_FILE) "+
			"for bearer tokens or --client-ca (TALLY_CLIENT_CA) for client certificates; or, if the network alone "+
			"decides who may connect (such as Cloud Run's IAM invoker check), --insecure (TALLY_INSECURE=true); "+
			"or listen on loopback, e.g. --addr 127.0.0.1:8080. (When PORT is set, as on Cloud Run, tallyd listens on 0.0.0.0:$PORT.)",
			c.Addr)
	}
	return nil
}

// checkListenerLoopback repeats Validate's refusal on the address actually bound: a host name
// Validate took for loopback (localhost) is resolved by the system, which may say otherwise.
func checkListenerLoopback(c *Config, bound net.Addr) error {
	if c.Insecure || c.TokensFile != "" || c.ClientCA != "" {
		return nil
	}
	tcp, ok := bound.(*net.TCPAddr)
	if ok && tcp.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to serve without authentication: --addr %s is bound to %s, which is not a loopback address; "+
		"give --tokens-file or --client-ca, or --insecure if the network alone decides who may connect", c.Addr, bound)
}

// isLoopback reports whether a listen host accepts connections from this machine only. An empty
// host is every interface; a host name other than localhost may resolve to anything, so it
// counts as reachable from elsewhere.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
