package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"cloud.google.com/go/firestore"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/ttl"
	"github.com/tally-dev/tally/shard"
)

// embeddedProject is the project id used inside the embedded emulator; any id works there.
const embeddedProject = "tally-local"

// openFirestore returns the Firestore client for the configured storage, and a function that
// releases what it started. Every mode goes through the same official client, and so through the
// same shard code: only where the client connects differs.
func openFirestore(ctx context.Context, cfg *Config, log *slog.Logger) (*firestore.Client, func() error, error) {
	switch cfg.Storage {
	case storageEmbedded:
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		em, err := emulator.Start(ctx, emulator.Options{
			DataDir: dir,
			Logger:  log.With("component", "emulator"),
			TTL:     []ttl.Policy{{CollectionGroup: shard.TTLCollectionGroup, Field: shard.TTLField}},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("starting the embedded emulator: %w", err)
		}
		opts, err := emulator.ClientOptions(em.Addr())
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
		// With FIRESTORE_EMULATOR_HOST set the client connects to that emulator on its own; without
		// it, to Cloud Firestore with Application Default Credentials.
		project := cfg.Project
		if project == "" {
			project = embeddedProject
		}
		client, err := firestore.NewClientWithDatabase(ctx, project, cfg.Database)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to Firestore: %w", err)
		}
		log.Info("storing counters in Firestore", "mode", cfg.Storage, "project", project, "database", cfg.Database, "emulator", cfg.EmulatorHost)
		return client, client.Close, nil
	}
}
