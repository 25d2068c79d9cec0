// Package testproc runs the repository's programs as real processes in tests: it builds them,
// starts them, waits for the address they print, SIGKILLs and restarts them. Only _test.go files
// import it.
//
// A test package that builds binaries runs its tests through Main:
//
//	func TestMain(m *testing.M) { testproc.Main(m) }
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The main packages tests run as processes.
const (
	Tallyd   = "github.com/tally-dev/tally/cmd/tallyd"
	Tally    = "github.com/tally-dev/tally/cmd/tally"
	Emulator = "github.com/tally-dev/tally/cmd/firestore-emulator"
)

// builds holds what Build compiled during this run of the test binary. Compiling and linking
// takes seconds per binary, more than most tests that run one, so each is built once.
var builds struct {
	sync.Mutex
	main bool              // Main runs the tests, and so removes dir at the end
	dir  string            // the binaries; created by the first Build
	bins map[string]string // import path: binary
}

// Main runs the tests of m, removes the binaries Build made, and exits with the tests' status.
func Main(m *testing.M) {
	builds.Lock()
	builds.main = true
	builds.Unlock()
	code := m.Run()
	builds.Lock()
	if builds.dir != "" {
		if err := os.RemoveAll(builds.dir); err != nil {
			fmt.Fprintf(os.Stderr, "testproc: removing the built binaries: %v\n", err)
		}
	}
	builds.Unlock()
	os.Exit(code)
}

// Build returns the binaries of the main packages pkgs (import paths), in order. A package is
// built at the first Build that asks for it, together with the others of that call that are not
// built yet, in one go build so that they compile and link in parallel; later calls reuse the
// binary. Calls wait for each other, so parallel tests do not build the same binary twice.
func Build(t testing.TB, pkgs ...string) []string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if !builds.main {
		t.Fatal("testproc.Build needs the package's TestMain to call testproc.Main, which removes the binaries")
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "testproc-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.bins = dir, map[string]string{}
	}
	var missing []string
	for _, pkg := range pkgs {
		if _, ok := builds.bins[pkg]; !ok {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		args := append([]string{"build", "-o", builds.dir + string(filepath.Separator)}, missing...)
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", strings.Join(missing, " "), err, out)
		}
		for _, pkg := range missing {
			builds.bins[pkg] = filepath.Join(builds.dir, path.Base(pkg))
		}
	}
	bins := make([]string, len(pkgs))
	for i, pkg := range pkgs {
		bins[i] = builds.bins[pkg]
	}
	return bins
}
