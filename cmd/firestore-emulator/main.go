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
	"strconv"
	"syscall"
	"time"

	"github.com/tally-dev/tally/emulator"
)

// Config is everything the command reads from its flags.
type Config struct {
	Host             string
	Port             int
	DataDir          string
	InMemory         bool
	VersionRetention time.Duration
	LogLevel         slog.Level
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
	}
	return nil
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	em, err := emulator.Start(ctx, emulator.Options{
		DataDir:          cfg.DataDir,
		InMemory:         cfg.InMemory,
		Addr:             net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Logger:           log,
		VersionRetention: cfg.VersionRetention,
	})
	if err != nil {
		return err
	}
	storageDesc := "in memory (lost on exit)"
	if !cfg.InMemory {
		storageDesc = "durably in " + cfg.DataDir
	}
	fmt.Fprintf(stdout, "Firestore emulator listening on %s, storing data %s.\n", em.Addr(), storageDesc)
	fmt.Fprintf(stdout, "Point Firestore clients at it with:\n\n   export FIRESTORE_EMULATOR_HOST=%s\n\n", em.Addr())
	<-ctx.Done()
	log.Info("shutting down")
	return em.Close()
}
