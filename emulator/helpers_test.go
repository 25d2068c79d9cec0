package emulator_test

import (
	"context"
	"errors"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/testproc"
)

// TestMain runs the tests through testproc, which removes the binaries they build.
func TestMain(m *testing.M) { testproc.Main(m) }

const project = "test-project"

// storageModes runs a test against the emulator in memory and on disk: both must behave the same.
func storageModes(t *testing.T, fn func(t *testing.T, c *firestore.Client)) {
	for _, durable := range []bool{false, true} {
		name := "memory"
		if durable {
			name = "disk"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newClient(t, durable))
		})
	}
}

// newClient starts an emulator (durable in a temporary directory, or in memory) and returns an
// official client connected to it.
func newClient(t testing.TB, durable bool) *firestore.Client {
	opts := emulator.Options{}
	if durable {
		opts.DataDir = t.TempDir()
	}
	em := emulatortest.Start(t, opts)
	return emulatortest.NewClient(t, em.Addr(), project)
}

// wantCode fails the test unless err carries the gRPC code want (OK means err == nil).
func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got code %v (err %v), want %v", got, err, want)
	}
}

func mustGet(t *testing.T, doc *firestore.DocumentRef) *firestore.DocumentSnapshot {
	t.Helper()
	snap, err := doc.Get(context.Background())
	if err != nil {
		t.Fatalf("get %s: %v", doc.Path, err)
	}
	return snap
}

func mustNotExist(t *testing.T, doc *firestore.DocumentRef) {
	t.Helper()
	_, err := doc.Get(context.Background())
	if status.Code(err) != codes.NotFound {
		t.Fatalf("get %s: got %v, want NotFound", doc.Path, err)
	}
}

var errStop = errors.New("stop")

func startEmulator(t testing.TB) *emulator.Emulator {
	return emulatortest.Start(t, emulator.Options{})
}

// clientFor connects to database (empty = "(default)") of project on em.
func clientFor(t testing.TB, em *emulator.Emulator, project, database string) *firestore.Client {
	t.Helper()
	if database == "" {
		return emulatortest.NewClient(t, em.Addr(), project)
	}
	opts, err := emulator.ClientOptions(em.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := firestore.NewClientWithDatabase(context.Background(), project, database, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
