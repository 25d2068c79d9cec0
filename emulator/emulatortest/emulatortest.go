// Package emulatortest starts emulators for tests and connects the official Firestore client to them.
package emulatortest

import (
	"context"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc"

	"github.com/tally-dev/tally/emulator"
)

// Start runs an emulator for the duration of the test. With a zero Options it is in memory.
func Start(tb testing.TB, opts emulator.Options) *emulator.Emulator {
	tb.Helper()
	if opts.DataDir == "" {
		opts.InMemory = true
	}
	em, err := emulator.Start(context.Background(), opts)
	if err != nil {
		tb.Fatalf("starting emulator: %v", err)
	}
	tb.Cleanup(func() {
		if err := em.Close(); err != nil {
			tb.Errorf("closing emulator: %v", err)
		}
	})
	return em
}

// NewClient returns an official Firestore client for project's default database on the emulator
// at addr, closed when the test ends. dialOpts are added to the connection's (e.g. a fault
// injector's interceptors).
func NewClient(tb testing.TB, addr, project string, dialOpts ...grpc.DialOption) *firestore.Client {
	tb.Helper()
	opts, err := emulator.ClientOptions(addr, dialOpts...)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := firestore.NewClient(context.Background(), project, opts...)
	if err != nil {
		tb.Fatalf("creating Firestore client: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
