package faultinject

import (
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/tally-dev/tally/emulator/emulatortest"
)

// NewClient returns an official Firestore client for project's default database on the emulator
// at addr, whose calls all go through in; it is closed when the test ends.
func NewClient(tb testing.TB, addr, project string, in *Injector) *firestore.Client {
	tb.Helper()
	return emulatortest.NewClient(tb, addr, project, in.DialOptions()...)
}
