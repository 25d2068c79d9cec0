package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/emulator/ttl"
	"github.com/tally-dev/tally/terraform"
)

// embeddedProject is the project id used inside the embedded emulator; any id works there.
const embeddedProject = "tally-local"

// pipeBufferBytes is the buffer of the in-process connection to the embedded emulator.
const pipeBufferBytes = 1 << 20

// openFirestore returns the Firestore client for the configured storage, and a function that
// releases what it started. Every mode goes through the same official client, and so through the
// same shard code: only where the client connects differs. dialOpts are added to the client's
// gRPC connection in every mode (a stats handler for tracing, say).
func openFirestore(ctx context.Context, cfg *Config, log *slog.Logger, dialOpts ...grpc.DialOption) (*firestore.Client, func() error, error) {
	switch cfg.Storage {
	case storageEmbedded:
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		// The embedded emulator checks every query against the indexes the Terraform module
		// deploys, as production would: a query needing an index the declaration lacks fails here,
		// not on deployment day.
		indexes, err := terraform.Declared()
		if err != nil {
			return nil, nil, err
		}
		// The embedded emulator is reached through an in-process pipe: the same gRPC protocol and
		// client, without a socket's system calls on every commit.
		pipe := bufconn.Listen(pipeBufferBytes)
		em, err := emulator.Start(ctx, emulator.Options{
			DataDir:  dir,
			Listener: pipe,
			Logger:   log.With("component", "emulator"),
			TTL:      ttlPolicies(indexes),
			// Records live for the key retention (a day by default); a sweep scans them all, so
			// sweeping every minute is prompt enough and cheap.
			TTLInterval:  time.Minute,
			CheckIndexes: true,
			Indexes:      indexes,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("starting the embedded emulator: %w", err)
		}
		opts, err := emulator.ClientOptions("passthrough:///embedded-emulator", append([]grpc.DialOption{grpc.WithContextDialer(
			func(ctx context.Context, _ string) (net.Conn, error) { return pipe.DialContext(ctx) })}, dialOpts...)...)
		if err != nil {
			return nil, nil, errors.Join(err, em.Close())
		}
		client, err := firestore.NewClientWithDatabase(ctx, embeddedProject, cfg.Database, opts...)
		if err != nil {
			return nil, nil, errors.Join(err, em.Close())
		}
		log.Info("storing counters durably in an embedded Firestore emulator", "data_dir", dir)
		return client, func() error { return errors.Join(client.Close(), em.Close()) }, nil
	default:
		// An external emulator gets the connection the client library would make for
		// FIRESTORE_EMULATOR_HOST, made here from the configuration rather than left to the
		// library's own reading of the environment; Cloud Firestore gets Application Default
		// Credentials.
		project := cfg.Project
		if project == "" {
			project = embeddedProject
		}
		var opts []option.ClientOption
		if cfg.Storage == storageEmulator {
			var err error
			// A local emulator that restarts is back within a second or so; gRPC's default
			// reconnect backoff (up to two minutes) would leave the server failing long after.
			reconnect := grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
				MinConnectTimeout: 5 * time.Second,
			})
			if opts, err = emulator.ClientOptions(cfg.EmulatorHost, append([]grpc.DialOption{reconnect}, dialOpts...)...); err != nil {
				return nil, nil, err
			}
		} else {
			// tallyd's own stats handler (in dialOpts) traces the client's calls; the library's
			// default instrumentation would trace them a second time.
			opts = append(opts, option.WithTelemetryDisabled())
			for _, o := range dialOpts {
				opts = append(opts, option.WithGRPCDialOption(o))
			}
		}
		client, err := firestore.NewClientWithDatabase(ctx, project, cfg.Database, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to Firestore: %w", err)
		}
		log.Info("storing counters in Firestore", "mode", cfg.Storage, "project", project, "database", cfg.Database, "emulator", cfg.EmulatorHost)
		return client, client.Close, nil
	}
}

// ttlPolicies are the TTL field overrides of the declaration, which Terraform deploys as TTL
// policies (the idempotency records' expiry; terraform's tests hold it equal to shard's).
func ttlPolicies(f *index.File) []ttl.Policy {
	var out []ttl.Policy
	for _, t := range f.TTLFields() {
		out = append(out, ttl.Policy{CollectionGroup: t.CollectionGroup, Field: t.FieldPath})
	}
	return out
}
