package client_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tally-dev/tally/client"
	"github.com/tally-dev/tally/internal/auth"
	"github.com/tally-dev/tally/internal/testlog"
)

// startTimeout bounds the wait for a tallyd to serve, and for it to stop.
const startTimeout = 60 * time.Second

// shared is the tallyd the package's tests and examples share, started by the first that needs
// it, each using counters of its own names. TestMain stops it.
var shared struct {
	once   sync.Once
	dir    string // the binary and the data
	binary string
	p      *tallyd
	err    error

	mu       sync.Mutex
	examples []*tallyd // started by exampleAddr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		code = 1
	}
	os.Exit(code)
}

// tallydAddr is the address of the shared tallyd, started on first use. Without it the tests
// cannot run at all, so a failure to start it ends the test binary.
func tallydAddr() string {
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "tally-client-test-"); shared.err != nil {
			return
		}
		shared.binary = filepath.Join(shared.dir, "tallyd")
		build := exec.Command("go", "build", "-o", shared.binary, "github.com/tally-dev/tally/cmd/tallyd")
		if out, err := build.CombinedOutput(); err != nil {
			shared.err = fmt.Errorf("go build tallyd: %v\n%s", err, out)
			return
		}
		shared.p, shared.err = startTallyd(filepath.Join(shared.dir, "data"))
	})
	if shared.err != nil {
		fmt.Fprintln(os.Stderr, "client tests: starting tallyd:", shared.err)
		_ = stopShared()
		os.Exit(1)
	}
	return shared.p.addr
}

// exampleAddr starts a tallyd of an example's own, so that its output is the same however
// often it runs (go test -count), and returns its address. TestMain stops it.
func exampleAddr() string {
	tallydAddr() // builds the binary
	shared.mu.Lock()
	defer shared.mu.Unlock()
	p, err := startTallyd(filepath.Join(shared.dir, fmt.Sprint("example-", len(shared.examples))))
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests: starting tallyd:", err)
		_ = stopShared()
		os.Exit(1)
	}
	shared.examples = append(shared.examples, p)
	return p.addr
}

func stopShared() error {
	var errs []error
	shared.mu.Lock()
	for _, p := range append(shared.examples, shared.p) {
		if p == nil {
			continue
		}
		if err := p.stop(); err != nil {
			errs = append(errs, fmt.Errorf("tallyd: %v\n%s", err, p.stderr.String()))
		}
	}
	shared.mu.Unlock()
	err := errors.Join(errs...)
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	return err
}

// tallyd is one tallyd process.
type tallyd struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *testlog.Buffer
}

// startTallyd starts the built tallyd with embedded storage in dataDir and extra flags, and returns
// once it serves. Its configuration comes from the flags only: the variables that could change
// it are removed from its environment.
func startTallyd(dataDir string, args ...string) (*tallyd, error) {
	args = append([]string{"--addr", "127.0.0.1:0", "--admin-addr=", "--data-dir", dataDir, "--log-level", "warn"}, args...)
	cmd := exec.Command(shared.binary, args...)
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(key, "TALLY_"), key == "FIRESTORE_EMULATOR_HOST", key == "GOOGLE_CLOUD_PROJECT", key == "PORT", key == "K_SERVICE":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	// A test binary killed by its timeout takes its server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &tallyd{cmd: cmd, exited: make(chan struct{}), stderr: &testlog.Buffer{}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	serving := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if addr, ok := strings.CutPrefix(lines.Text(), "tallyd serving on "); ok {
				serving <- addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-serving:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("tallyd exited before serving:\n%s", p.stderr.String())
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("tallyd did not serve within %s:\n%s", startTimeout, p.stderr.String())
	}
}

// stop shuts tallyd down gracefully, or kills it if that takes too long.
func (p *tallyd) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-time.After(startTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("tallyd did not stop within %s", startTimeout)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("tallyd exited with status %d", code)
	}
	return nil
}

// startTallydT starts a tallyd of the test's own, stopped when the test ends.
func startTallydT(t *testing.T, args ...string) string {
	t.Helper()
	tallydAddr() // builds the binary
	p, err := startTallyd(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("%v\n%s", err, p.stderr.String())
		}
	})
	return p.addr
}

// tokensFile writes a tallyd tokens file granting token every permission on counters whose IDs
// start with prefix.
func tokensFile(t *testing.T, token, prefix string) string {
	t.Helper()
	policy := map[string]any{"principals": []map[string]any{{
		"id": "test", "token_sha256": auth.HashToken(token),
		"prefixes": []string{prefix}, "permissions": []string{"read", "write", "admin"},
	}}}
	b, err := json.Marshal(policy)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newClient returns a client of addr, closed when the test ends.
func newClient(t *testing.T, addr string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(t.Context(), addr, opts...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testContext bounds a test's calls, so that a stuck call fails the test instead of hanging it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// runs numbers the calls of counterName, so that a test run again in the same process (go test
// -count) gets new counters on the shared tallyd.
var runs atomic.Int64

// counterName is a counter ID of the test's own on the shared tallyd.
func counterName(t *testing.T, suffix string) string {
	t.Helper()
	return fmt.Sprintf("%s-%s-%d", strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()), suffix, runs.Add(1))
}

// value reads a counter's current value directly from tallyd.
func value(t *testing.T, name string) int64 {
	t.Helper()
	c, err := newClient(t, tallydAddr()).Get(testContext(t), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return c.Value
}
