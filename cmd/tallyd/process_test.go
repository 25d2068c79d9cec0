package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tally-dev/tally/internal/testproc"
)

// TestMain runs the tests through testproc, which removes the binaries they build.
func TestMain(m *testing.M) { testproc.Main(m) }

// binaries are the programs of a multi-process test.
type binaries struct {
	tallyd, tally, emulator string
}

// buildBinaries returns tallyd, the tally CLI and the Firestore emulator, all three built at the
// first call, in one go build, and reused by every later test.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	bins := testproc.Build(t, testproc.Tallyd, testproc.Tally, testproc.Emulator)
	return binaries{tallyd: bins[0], tally: bins[1], emulator: bins[2]}
}

func tallydServing(line string) (string, bool) {
	return strings.CutPrefix(line, "tallyd serving on ")
}

// tallydEnviron is the environment of a tallyd process: the test's, without any TALLY_*
// variable of the developer's (the CLI's TALLY_ADDR, say), which would configure tallyd; env
// ("KEY=value") is added.
func tallydEnviron(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// startProcess starts the tallyd binary on dataDir (embedded storage) and returns once it
// serves. Its admin listener is off, so that parallel tests do not compete for its default port.
func startProcess(t *testing.T, bin, dataDir string) *testproc.Process {
	t.Helper()
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--admin-addr=", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = tallydEnviron()
	return testproc.StartServing(t, "tallyd", cmd, tallydServing)
}

// adminProcess is a tallyd process with its admin listener on.
type adminProcess struct {
	*testproc.Process
	admin string // the admin listener's address
}

// startAdminProcess starts the tallyd binary with args, env added to its environment and its
// admin listener on a free loopback port, and returns once it serves.
func startAdminProcess(t *testing.T, bin string, env []string, args ...string) adminProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	cmd.Env = tallydEnviron(env...)
	// tallyd prints the admin address before the serving line, and the lines are handed over in
	// order on one goroutine: admin is written before StartServing returns.
	var admin string
	p := testproc.StartServing(t, "tallyd", cmd, func(line string) (string, bool) {
		if a, ok := strings.CutPrefix(line, "tallyd admin on "); ok {
			admin = a
		}
		return tallydServing(line)
	})
	if admin == "" {
		t.Fatal("tallyd did not print its admin address before serving")
	}
	return adminProcess{Process: p, admin: admin}
}

// replicaProject is the Firestore project that the replicas of a test share.
const replicaProject = "tally-replicas"

// startReplica starts the tallyd binary on addr, one of several replicas storing counters in the
// emulator at emulatorAddr, and returns once it serves. It finds the emulator the way a deployment
// would: through FIRESTORE_EMULATOR_HOST.
func startReplica(t *testing.T, bin, emulatorAddr, addr string) *testproc.Process {
	t.Helper()
	cmd := exec.Command(bin, "--addr", addr, "--admin-addr=", "--log-level", "warn")
	// The later of duplicate variables wins: these override whatever the test runs under.
	cmd.Env = tallydEnviron(
		"FIRESTORE_EMULATOR_HOST="+emulatorAddr,
		"GOOGLE_CLOUD_PROJECT="+replicaProject,
	)
	return testproc.StartServing(t, "tallyd "+addr, cmd, tallydServing)
}
