package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/tally-dev/tally/shard"
)

// lookupEnv is os.LookupEnv; a parameter so that tests control the environment.
type lookupEnv func(string) (string, bool)

// envPrefix starts the environment variable of every flag: --max-batch is TALLY_MAX_BATCH.
const envPrefix = "TALLY_"

// envName is the environment variable that sets the flag named flagName.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// The defaults of the new flags, named for the documentation and the tests.
const (
	defaultAddr               = "127.0.0.1:8080"
	defaultAdminAddr          = "127.0.0.1:9464"
	defaultShutdownTimeout    = 30 * time.Second
	defaultMaxMessageBytes    = 1 << 20 // the largest valid request, 500 increments of the longest ids, is about 760 KB
	defaultDefaultDeadline    = 30 * time.Second
	defaultMaxConcurrentCalls = 1024
	defaultKeepaliveMinTime   = 10 * time.Second
	defaultHealthInterval     = 5 * time.Second
)

// defaultGCPercent lets the heap grow to five times its live size between collections. tallyd's
// live heap is small (tens of MB) and a hot counter allocates per call, so the runtime's default
// of 100 spends a large share of the CPU collecting.
const defaultGCPercent = 400

// newFlagSet defines every tallyd flag on a new flag set, bound to the fields of c. The defaults
// of a few depend on the environment as it was before the TALLY_* variables: PORT,
// GOOGLE_CLOUD_PROJECT and GOGC. An empty variable counts as unset there. The TALLY_*
// variables are applied after parsing (applyEnv).
//
// A name between back quotes in a usage string is the placeholder --help shows for the value.
func newFlagSet(c *Config, env lookupEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("tallyd", flag.ContinueOnError)
	addr := defaultAddr
	if port := legacyEnv(env, "PORT"); port != "" {
		addr = net.JoinHostPort("0.0.0.0", port)
	}
	fs.StringVar(&c.Addr, "addr", addr, "`host:port` to serve gRPC on; 0.0.0.0:$PORT when PORT is set (as on Cloud Run)")
	fs.StringVar(&c.Storage, "storage", "", "storage `mode`: embedded, emulator or firestore; when empty, emulator if FIRESTORE_EMULATOR_HOST is set, else firestore if a project is set, else embedded")
	fs.StringVar(&c.DataDir, "data-dir", "./tally-data", "embedded storage: the `directory` of the data")
	fs.StringVar(&c.Project, "project", legacyEnv(env, "GOOGLE_CLOUD_PROJECT"), "Firestore project `id`; $GOOGLE_CLOUD_PROJECT when that is set")
	fs.StringVar(&c.Database, "database", "(default)", "Firestore database `id`")
	fs.IntVar(&c.DefaultShards, "default-shards", shard.DefaultShards, fmt.Sprintf("shard count of counters created implicitly, 1..%d", shard.MaxShards))
	fs.IntVar(&c.MaxBatch, "max-batch", shard.DefaultMaxBatch, fmt.Sprintf("most increments of one counter coalesced into one commit, 1..%d", maxMaxBatch))
	fs.IntVar(&c.MaxInFlight, "max-in-flight", shard.DefaultMaxInFlight, fmt.Sprintf("most commits of one counter in flight at once (more than one only while a full batch waits), 1..%d", maxMaxInFlight))
	fs.DurationVar(&c.KeyRetention, "key-retention", shard.DefaultKeyRetention, "how long idempotency keys are remembered; at least 1m")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "on shutdown, how long the increments in flight may take to commit; the calls then get "+answerGrace.String()+" more to send their answers before they are cut off, and closing the admin listener and flushing telemetry "+exitTimeout.String()+": the whole shutdown takes at most this plus "+shutdownBudget(0).String()+" and the time storage takes to close (the Firestore client closes at once)")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	c.LogJSON = logAuto
	fs.Var(&c.LogJSON, "log-json", "log JSON lines (true, or --log-json alone), text lines (false), or auto: JSON unless standard error is a terminal, as on Cloud Run and under any log collector")
	gcDefault := defaultGCPercent
	if legacyEnv(env, "GOGC") != "" {
		gcDefault = 0 // the runtime has read GOGC already
	}
	fs.IntVar(&c.GCPercent, "gc-percent", gcDefault, fmt.Sprintf("garbage collector `target` as in GOGC; 0 keeps the runtime's; %d unless GOGC is set, then 0", defaultGCPercent))

	fs.StringVar(&c.AdminAddr, "admin-addr", defaultAdminAddr, "`host:port` of the admin HTTP listener serving /healthz, /readyz and /metrics; empty disables it")

	fs.StringVar(&c.TokensFile, "tokens-file", "", "bearer-token policy `file` (JSON); reloaded on SIGHUP and when it changes")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate chain `file`: serve gRPC over TLS (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.StringVar(&c.ClientCA, "client-ca", "", "PEM CA bundle `file`: client certificates are requested and, when given, verified against it; a verified certificate's identity can stand in for a token (needs --tls-cert)")
	fs.BoolVar(&c.Insecure, "insecure", false, "allow serving on a non-loopback address with neither --tokens-file nor --client-ca, for a network that itself decides who may connect")

	fs.IntVar(&c.MaxMessageBytes, "max-message-bytes", defaultMaxMessageBytes, fmt.Sprintf("largest request message in `bytes`; larger ones are refused with RESOURCE_EXHAUSTED; %d..%d", minMaxMessageBytes, maxMaxMessageBytes))
	fs.IntVar(&c.MaxBatchNames, "max-batch-names", shard.MaxBatchDeltas, fmt.Sprintf("most names in one BatchIncrement (API maximum %d) or BatchGetCounters (API maximum %d); the lower of this and the API's maximum applies", shard.MaxBatchDeltas, shard.MaxBatchGet))
	fs.DurationVar(&c.DefaultDeadline, "default-deadline", defaultDefaultDeadline, "deadline given to calls that arrive without one (health and reflection excepted)")
	fs.IntVar(&c.MaxConcurrentCalls, "max-concurrent-calls", defaultMaxConcurrentCalls, fmt.Sprintf("most calls in progress at once; calls beyond it are refused at once with RESOURCE_EXHAUSTED, before anything is applied, and counted as shed (health and reflection excepted); 1..%d", maxMaxConcurrentCalls))
	fs.DurationVar(&c.KeepaliveMinTime, "keepalive-min-time", defaultKeepaliveMinTime, "clients sending keepalive pings more often than this are disconnected")
	fs.DurationVar(&c.HealthInterval, "health-interval", defaultHealthInterval, "how often Firestore reachability is probed for the gRPC health status and /readyz")

	fs.IntVar(&c.AdaptiveMinShards, "adaptive-min-shards", shard.DefaultAdaptiveMinShards, fmt.Sprintf("fewest shards the server shrinks a counter with adaptive shards to, 1..%d", shard.MaxShards))
	fs.IntVar(&c.AdaptiveMaxShards, "adaptive-max-shards", shard.DefaultAdaptiveMaxShards, fmt.Sprintf("most shards the server grows a counter with adaptive shards to, --adaptive-min-shards..%d", shard.MaxShards))
	fs.IntVar(&c.AdaptiveStep, "adaptive-step", shard.DefaultAdaptiveStep, fmt.Sprintf("factor one adaptive decision multiplies or divides a shard count by, 2..%d", maxAdaptiveStep))
	fs.DurationVar(&c.AdaptiveWindow, "adaptive-window", shard.DefaultAdaptiveWindow, "how often each counter with adaptive shards is judged: the contention seen in one window decides whether it grows")
	fs.DurationVar(&c.AdaptiveCooldown, "adaptive-cooldown", shard.DefaultAdaptiveCooldown, "how long a counter with adaptive shards must go without contention, since its shard count last changed, before it shrinks")

	fs.DurationVar(&c.WatchInterval, "watch-interval", shard.DefaultWatchInterval, "least time between two updates of a WatchCounter stream that asks for no min_interval; changes within it are sent as one update with the latest value")
	fs.DurationVar(&c.MinWatchInterval, "min-watch-interval", shard.DefaultMinWatchInterval, "least min_interval a WatchCounter stream may ask for; shorter ones are raised to it")
	fs.IntVar(&c.MaxWatchedCounters, "max-watched-counters", shard.DefaultMaxWatchedCounters, fmt.Sprintf("most distinct counters watched at once, each holding two Firestore listeners (streams) however many watch it; a watch of one more is refused with RESOURCE_EXHAUSTED. Cloud Firestore takes about 100 streams per connection, reads included, and tallyd's client has one: keep it below 50 there; the embedded emulator has no such limit; 1..%d", maxMaxWatches))
	fs.IntVar(&c.MaxWatches, "max-watches", defaultMaxWatches, fmt.Sprintf("most WatchCounter streams open at once; more are refused with RESOURCE_EXHAUSTED. Watches hold no slot of --max-concurrent-calls and get no --default-deadline; 1..%d", maxMaxWatches))
	return fs
}

// applyEnv sets every flag not given on the command line whose TALLY_* variable is set, even to
// the empty string (so that TALLY_ADMIN_ADDR= disables the admin listener). A value the flag
// refuses is an error naming the variable; every such variable is named at once.
func applyEnv(fs *flag.FlagSet, env lookupEnv) error {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if onCommandLine[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := env(name)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			shown := fmt.Sprintf("%q", v)
			if secretFlag(f.Name) {
				shown = redacted
			}
			errs = append(errs, fmt.Errorf("environment variable %s=%s (--%s): %w", name, shown, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// legacyEnv reads one of the variables tallyd honoured before the TALLY_* ones; empty is unset.
func legacyEnv(env lookupEnv, name string) string {
	v, _ := env(name)
	return v
}

// secretFlag reports whether the Config field of the flag named flagName is tagged secret.
func secretFlag(flagName string) bool {
	key := strings.ReplaceAll(flagName, "-", "_")
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, secret := logTag(t.Field(i)); name == key {
			return secret
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
