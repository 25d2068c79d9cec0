package testproc

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LogEnv, when set, sends the children's stderr to the test's stderr as it is written, rather
// than showing its end only when the test fails.
const LogEnv = "TALLYD_TEST_LOG"

// serveTimeout bounds the wait for a program to print its address.
const serveTimeout = 60 * time.Second

// Process is a program started by a test.
type Process struct {
	Name string
	Addr string // the address it printed (StartServing), or ""

	cmd     *exec.Cmd
	serving ServingAt // how it was started, for Restart; nil for Start
	exited  chan struct{}
	err     error
}

// ServingAt finds the address a program serves on in a line it printed.
type ServingAt func(line string) (addr string, ok bool)

// Start starts cmd and hands every line it prints on stdout to onLine, one at a time on a
// goroutine of its own, until onLine returns false; the rest is read and dropped, so that the
// program never blocks on a full pipe. onLine must not wait for the test: Kill and Signal wait
// until every line was handled. The process is SIGKILLed when the test ends; if the test failed,
// the end of its stderr is logged then.
func Start(t testing.TB, name string, cmd *exec.Cmd, onLine func(line string) bool) *Process {
	t.Helper()
	stderr := new(tail)
	cmd.Stderr = stderr
	if os.Getenv(LogEnv) != "" {
		cmd.Stderr = os.Stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if !onLine(lines.Text()) {
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.Kill()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s (pid %d) wrote to stderr:\n%s", name, cmd.Process.Pid, stderr.String())
		}
	})
	return p
}

// StartServing starts cmd and returns once it printed the address it serves on, which serving
// finds in its output. Otherwise it is Start.
func StartServing(t testing.TB, name string, cmd *exec.Cmd, serving ServingAt) *Process {
	t.Helper()
	ready := make(chan string, 1)
	p := Start(t, name, cmd, func(line string) bool {
		addr, ok := serving(line)
		if ok {
			ready <- addr
		}
		return !ok
	})
	p.serving = serving
	select {
	case p.Addr = <-ready:
	case <-p.exited:
		t.Fatalf("%s exited before serving: %v", name, p.err)
	case <-time.After(serveTimeout):
		t.Fatalf("%s did not serve within %v", name, serveTimeout)
	}
	return p
}

// Restart SIGKILLs the process if it still runs, starts its command line again (with the same
// environment) and returns once the new process serves.
func (p *Process) Restart(t testing.TB) *Process {
	t.Helper()
	if p.serving == nil {
		t.Fatalf("%s: Restart needs a process started by StartServing", p.Name)
	}
	_ = p.Kill()
	cmd := exec.Command(p.cmd.Path, p.cmd.Args[1:]...)
	cmd.Env, cmd.Dir = p.cmd.Env, p.cmd.Dir
	return StartServing(t, p.Name, cmd, p.serving)
}

// Signal sends sig, unless the process has exited, and waits for it to exit. It returns how it
// ended, as exec.Cmd.Wait reports it.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	<-p.exited
	return p.err
}

// Kill SIGKILLs the process, so that it has no chance to flush or close anything, and waits
// for it to exit.
func (p *Process) Kill() error { return p.Signal(syscall.SIGKILL) }

// Exited is closed once the process has exited and every line it printed was handled.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended, valid once Exited is closed.
func (p *Process) Err() error { return p.err }

// Helper is a command running only the test named test of the current test binary, with env
// ("KEY=value") added to the environment: the child of a helper-process test.
func Helper(test string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// FreeAddr returns a loopback address that was free a moment ago, for a process that must come
// back on the same address after a restart.
func FreeAddr(t testing.TB) string {
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

// EmulatorServing reads the line the Firestore emulator prints for users to copy, as gcloud's
// does.
func EmulatorServing(line string) (string, bool) {
	return strings.CutPrefix(strings.TrimSpace(line), "export FIRESTORE_EMULATOR_HOST=")
}

// StartEmulator starts the firestore-emulator binary with args, which say where it stores and
// listens, and returns once it serves.
func StartEmulator(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--log-level", "warn"}, args...)...)
	return StartServing(t, "firestore-emulator", cmd, EmulatorServing)
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
