package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildTallyd compiles the tallyd binary into a temporary directory.
func buildTallyd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tallyd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building tallyd: %v\n%s", err, out)
	}
	return bin
}

// binaries are the programs of a multi-process test.
type binaries struct {
	tallyd, tally, emulator string
}

// buildBinaries compiles tallyd, the tally CLI and the Firestore emulator into a temporary
// directory, with one go build so that they compile and link in parallel.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), ".", "../tally", "../firestore-emulator")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building tallyd, tally and firestore-emulator: %v\n%s", err, out)
	}
	return binaries{
		tallyd:   filepath.Join(dir, "tallyd"),
		tally:    filepath.Join(dir, "tally"),
		emulator: filepath.Join(dir, "firestore-emulator"),
	}
}

// freeAddr returns a loopback address that was free a moment ago, for a process that must come
// back on the same address after a restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// process is a program running as a child process, serving at the address it printed.
type process struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	err    error
}

// servingAt finds the served address in a line the program printed.
type servingAt func(line string) (addr string, ok bool)

func tallydServing(line string) (string, bool) {
	return strings.CutPrefix(line, "tallyd serving on ")
}

// emulatorServing reads the line the emulator prints for users to copy, as gcloud's does.
func emulatorServing(line string) (string, bool) {
	return strings.CutPrefix(strings.TrimSpace(line), "export FIRESTORE_EMULATOR_HOST=")
}

// startChild starts cmd and returns once it printed the address it serves on. It is SIGKILLed
// when the test ends; if the test failed, the end of its stderr is logged then.
func startChild(t *testing.T, name string, cmd *exec.Cmd, serving servingAt) *process {
	t.Helper()
	var stderr tail
	cmd.Stderr = &stderr
	if os.Getenv("TALLYD_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := serving(sc.Text()); ok {
				ready <- addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.signal(syscall.SIGKILL)
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s (pid %d) wrote to stderr:\n%s", name, cmd.Process.Pid, stderr.String())
		}
	})
	select {
	case p.addr = <-ready:
	case <-p.exited:
		t.Fatalf("%s exited before serving: %v", name, p.err)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not serve within 60s", name)
	}
	return p
}

// startProcess starts the tallyd binary on dataDir (embedded storage) and returns once it
// serves.
func startProcess(t *testing.T, bin, dataDir string) *process {
	t.Helper()
	return startChild(t, "tallyd", exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"), tallydServing)
}

// startEmulator starts the firestore-emulator binary with args, which say where it stores and
// listens, and returns once it serves.
func startEmulator(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	return startChild(t, "firestore-emulator", exec.Command(bin, append([]string{"--log-level", "warn"}, args...)...), emulatorServing)
}

// replicaProject is the Firestore project that the replicas of a test share.
const replicaProject = "tally-replicas"

// startReplica starts the tallyd binary on addr, one of several replicas storing counters in the
// emulator at emulatorAddr, and returns once it serves. It finds the emulator the way a deployment
// would: through FIRESTORE_EMULATOR_HOST.
func startReplica(t *testing.T, bin, emulatorAddr, addr string) *process {
	t.Helper()
	cmd := exec.Command(bin, "--addr", addr, "--log-level", "warn")
	// The later of duplicate variables wins: these override whatever the test runs under.
	cmd.Env = append(os.Environ(),
		"FIRESTORE_EMULATOR_HOST="+emulatorAddr,
		"GOOGLE_CLOUD_PROJECT="+replicaProject,
		"TALLY_DATABASE=",
	)
	return startChild(t, "tallyd "+addr, cmd, tallydServing)
}

// signal sends sig and waits for the process to exit.
func (p *process) signal(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	<-p.exited
	return p.err
}

// tailBytes is how much of a process's stderr a failed test shows: the end, where the trouble is.
const tailBytes = 16 << 10

// tail keeps the last tailBytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*tailBytes {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailBytes:]...)
	}
	return len(p), nil
}

func (w *tail) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.buf)
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf[max(0, len(w.buf)-tailBytes):])
}
