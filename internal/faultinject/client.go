package faultinject

import (
	"context"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/tally-dev/tally/emulator"
)

// NewClient returns an official Firestore client for project's default database on the emulator
// at addr, whose calls all go through in; it is closed when the test ends. It connects as
// emulatortest.NewClient does (emulator.ClientOptions: plaintext, the emulator's owner token).
func NewClient(tb testing.TB, addr, project string, in *Injector) *firestore.Client {
	tb.Helper()
	opts, err := emulator.ClientOptions(addr, in.DialOptions()...)
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
