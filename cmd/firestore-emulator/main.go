// Command firestore-emulator serves the google.firestore.v1 API from a durable local database, so
// that any Firestore client can use it by setting FIRESTORE_EMULATOR_HOST.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/emulator/ttl"
)

// Config is everything the command reads from its flags.
type Config struct {
	Host             string
	Port             int
	DataDir          string
	InMemory         bool
	VersionRetention time.Duration
	LogLevel         slog.Level
	TTL              []string // GROUP=FIELD policies, one per --ttl
	TTLConfig        string   // JSON policy file
	TTLInterval      time.Duration
	Indexes          string // firestore.indexes.json the queries are checked against
	NoIndexCheck     bool   // answer every query, as Google's emulator does
}

// Validate reports the first problem with the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Host == "":
		return errors.New("--host must not be empty")
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("--port %d is not a TCP port", c.Port)
	case c.InMemory && c.DataDir != "":
		return errors.New("--in-memory and --data-dir are mutually exclusive")
	case !c.InMemory && c.DataDir == "":
		return errors.New("--data-dir is required unless --in-memory is set")
	case c.VersionRetention < time.Minute:
		return fmt.Errorf("--version-retention %s is below the minimum of 1m", c.VersionRetention)
	case c.TTLInterval <= 0:
		return fmt.Errorf("--ttl-interval %s must be positive", c.TTLInterval)
	}
	_, err := c.TTLPolicies()
	return err
}

// IndexFile reads --indexes; nil when it is not given (only the automatic single-field indexes
// then serve queries, as in a new production database).
func (c *Config) IndexFile() (*index.File, error) {
	if c.Indexes == "" {
		return nil, nil
	}
	f, err := index.ReadFile(c.Indexes)
	if err != nil {
		return nil, fmt.Errorf("--indexes %s: %w", c.Indexes, err)
	}
	return f, nil
}

// TTLPolicies reads the policies of every --ttl and of --ttl-config, and validates them: each on
// its own, and at most one per collection group across both.
func (c *Config) TTLPolicies() ([]ttl.Policy, error) {
	var policies []ttl.Policy
	for _, spec := range c.TTL {
		p, err := ttl.ParsePolicy(spec)
		if err != nil {
			return nil, fmt.Errorf("--ttl: %w", err)
		}
		policies = append(policies, p)
	}
	if c.TTLConfig != "" {
		fromFile, err := readTTLConfig(c.TTLConfig)
		if err != nil {
			return nil, fmt.Errorf("--ttl-config %s: %w", c.TTLConfig, err)
		}
		policies = append(policies, fromFile...)
	}
	// The index file's TTL overrides are TTL policies too, as in production.
	indexes, err := c.IndexFile()
	if err != nil {
		return nil, err
	}
	if indexes != nil {
		for _, f := range indexes.TTLFields() {
			p := ttl.Policy{CollectionGroup: f.CollectionGroup, Field: f.FieldPath}
			if !slices.Contains(policies, p) {
				policies = append(policies, p)
			}
		}
	}
	if err := ttl.ValidatePolicies(policies); err != nil {
		return nil, fmt.Errorf("--ttl, --ttl-config and the TTL overrides of --indexes: %w", err)
	}
	return policies, nil
}

func readTTLConfig(path string) ([]ttl.Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ttl.ReadConfig(f)
}

func parseConfig(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("firestore-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Host, "host", "127.0.0.1", "address to listen on (loopback by default)")
	fs.IntVar(&c.Port, "port", 8080, "TCP port to listen on (0 picks a free one)")
	fs.StringVar(&c.DataDir, "data-dir", "", "directory for durable data (created if missing)")
	fs.BoolVar(&c.InMemory, "in-memory", false, "keep all data in memory; nothing survives exit")
	fs.DurationVar(&c.VersionRetention, "version-retention", time.Hour, "how far back reads at a read_time may go")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.Func("ttl", "TTL policy GROUP=FIELD: delete documents of collection group GROUP once the timestamp in FIELD has passed (repeatable)", func(s string) error {
		c.TTL = append(c.TTL, s)
		return nil
	})
	fs.StringVar(&c.TTLConfig, "ttl-config", "", `JSON file of TTL policies: {"policies":[{"collection_group":"idempotency","field":"expire_at"}]}`)
	fs.DurationVar(&c.TTLInterval, "ttl-interval", 5*time.Second, "how often TTL policies are applied")
	fs.StringVar(&c.Indexes, "indexes", "", "firestore.indexes.json (Firebase CLI format) declaring the composite indexes and field overrides queries are checked against; its TTL overrides become TTL policies")
	fs.BoolVar(&c.NoIndexCheck, "no-index-check", false, "answer every query without checking indexes, as Google's emulator does")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return c, c.Validate()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "firestore-emulator:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	policies, err := cfg.TTLPolicies()
	if err != nil {
		return err
	}
	indexes, err := cfg.IndexFile()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	em, err := emulator.Start(ctx, emulator.Options{
		DataDir:          cfg.DataDir,
		InMemory:         cfg.InMemory,
		Addr:             addr,
		Logger:           log,
		VersionRetention: cfg.VersionRetention,
		TTL:              policies,
		TTLInterval:      cfg.TTLInterval,
		CheckIndexes:     !cfg.NoIndexCheck,
		Indexes:          indexes,
	})
	if err != nil {
		return fmt.Errorf("starting the emulator on %s: %w", addr, err)
	}
	storageDesc := "in memory (lost on exit)"
	if !cfg.InMemory {
		storageDesc = "durably in " + cfg.DataDir
	}
	fmt.Fprintf(stdout, "Firestore emulator listening on %s, storing data %s.\n", em.Addr(), storageDesc)
	fmt.Fprintf(stdout, "Point Firestore clients at it with:\n\n   export FIRESTORE_EMULATOR_HOST=%s\n\n", em.Addr())
	printTTLPolicies(stdout, policies, cfg.TTLInterval)
	printIndexChecks(stdout, cfg, indexes)
	<-ctx.Done()
	log.Info("shutting down")
	if err := em.Close(); err != nil {
		return fmt.Errorf("closing the emulator: %w", err)
	}
	return nil
}

func printTTLPolicies(w io.Writer, policies []ttl.Policy, interval time.Duration) {
	if len(policies) == 0 {
		fmt.Fprintln(w, "No TTL policies (add them with --ttl GROUP=FIELD or --ttl-config FILE).")
		return
	}
	fmt.Fprintf(w, "TTL policies, applied every %s (production takes up to about 24h):\n", interval)
	for _, p := range policies {
		fmt.Fprintf(w, "   collection group %q expires documents at field %s\n", p.CollectionGroup, p.Field)
	}
}

func printIndexChecks(w io.Writer, cfg *Config, indexes *index.File) {
	switch {
	case cfg.NoIndexCheck:
		fmt.Fprintln(w, "Index checks off (--no-index-check): every query is answered, as by Google's emulator.")
	case indexes == nil:
		fmt.Fprintln(w, "Index checks on, with the automatic single-field indexes only (declare more with --indexes FILE,")
		fmt.Fprintln(w, "or turn the checks off with --no-index-check).")
	default:
		fmt.Fprintf(w, "Index checks on: %d composite indexes and %d field overrides from %s.\n", len(indexes.Indexes), len(indexes.FieldOverrides), cfg.Indexes)
	}
}
