package main

import (
	"context"
	"io"
	"os"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// tallyd is a server started by a test.
type tallyd struct {
	addr  string
	admin string       // the admin listener's address, "" unless the test enabled it
	stop  func() error // graceful shutdown; returns run's error
}

// startTallyd runs tallyd in-process on a free loopback port with durable embedded storage in
// dataDir (a new temporary directory when empty).
func startTallyd(t testing.TB, dataDir string, args ...string) *tallyd {
	t.Helper()
	return startTallydEnv(t, nil, dataDir, args...)
}

// startTallydEnv is startTallyd with the given environment variables. The admin listener is off
// unless args enable it (--admin-addr 127.0.0.1:0), so that parallel tests do not compete for its
// default port.
func startTallydEnv(t testing.TB, environ map[string]string, dataDir string, args ...string) *tallyd {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	args = append([]string{"--addr", "127.0.0.1:0", "--admin-addr=", "--data-dir", dataDir, "--log-level", orDefault(os.Getenv("TALLYD_TEST_LOG"), "warn")}, args...)
	go func() { done <- run(ctx, args, envMap(environ), io.Discard, testLog(), ready) }()
	var at listening
	select {
	case at = <-ready:
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
	return &tallyd{addr: at.grpc, admin: at.admin, stop: stop}
}

// envMap is an environment holding exactly the variables of m.
func envMap(m map[string]string) lookupEnv {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// dial returns a client of the counter service at addr, closed when the test ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) tallyv1.CounterServiceClient {
	t.Helper()
	return tallyv1.NewCounterServiceClient(dialConn(t, addr, opts...))
}

// dialConn returns a connection to addr, closed when the test ends.
func dialConn(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func value(t testing.TB, c tallyv1.CounterServiceClient, id string) int64 {
	t.Helper()
	got, err := c.GetCounter(context.Background(), &tallyv1.GetCounterRequest{Name: "counters/" + id})
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return got.GetValue()
}

func testLog() io.Writer {
	if os.Getenv("TALLYD_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
