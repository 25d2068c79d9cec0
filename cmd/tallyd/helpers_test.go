package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// tallyd is a server started by a test.
type tallyd struct {
	addr string
	stop func() error // graceful shutdown; returns run's error
}

// startTallyd runs tallyd in-process on a free loopback port with durable embedded storage in
// dataDir (a new temporary directory when empty).
func startTallyd(t testing.TB, dataDir string, args ...string) *tallyd {
	t.Helper()
	return startTallydEnv(t, nil, dataDir, args...)
}

// startTallydEnv is startTallyd with the given environment variables.
func startTallydEnv(t testing.TB, environ map[string]string, dataDir string, args ...string) *tallyd {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	env := func(k string) string { return environ[k] }
	args = append([]string{"--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", orDefault(os.Getenv("TALLYD_TEST_LOG"), "warn")}, args...)
	go func() { done <- run(ctx, args, env, io.Discard, testLog(), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("tallyd exited: %v", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("tallyd shutdown: %v", err)
		}
	})
	return &tallyd{addr: addr, stop: stop}
}

// dial returns a client of the counter service at addr, closed when the test ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) tallyv1.CounterServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return tallyv1.NewCounterServiceClient(conn)
}

func value(t testing.TB, c tallyv1.CounterServiceClient, id string) int64 {
	t.Helper()
	got, err := c.GetCounter(context.Background(), &tallyv1.GetCounterRequest{Name: "counters/" + id})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return got.GetValue()
}

// buildTallyd compiles the tallyd binary into a temporary directory.
func buildTallyd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tallyd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building tallyd: %v\n%s", err, out)
	}
	return bin
}

// process is tallyd running as a child process.
type process struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	err    error
}

// startProcess starts the binary on dataDir and returns once it serves.
func startProcess(t *testing.T, bin, dataDir string) *process {
	t.Helper()
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "tallyd serving on "); ok {
				ready <- addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-ready:
	case <-p.exited:
		t.Fatalf("tallyd exited before serving: %v", p.err)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("tallyd did not serve within 60s")
	}
	t.Cleanup(func() { p.signal(syscall.SIGKILL) })
	return p
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

func testLog() io.Writer {
	if os.Getenv("TALLYD_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
