package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-dev/tally/internal/testproc"
)

// lineWriter hands each line written to it to a channel, so that a test can
// follow a command that prints as it goes.
type lineWriter struct {
	mu      sync.Mutex
	partial string
	lines   chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial += string(p)
	for {
		line, rest, ok := strings.Cut(w.partial, "\n")
		if !ok {
			return len(p), nil
		}
		w.lines <- line
		w.partial = rest
	}
}

// TestWatchAndAtAgainstTallyd runs get --at and watch against a real tallyd:
// the value as of a moment between two increments, and a watch that shows
// the current value, then an increment's, and ends with status 0 when
// interrupted.
func TestWatchAndAtAgainstTallyd(t *testing.T) {
	bins := testproc.Build(t, testproc.Tallyd)
	srv := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tally := func(args ...string) outcome {
		t.Helper()
		got := runTally(ctx, append([]string{"--addr", srv.Addr}, args...)...)
		if got.code != exitOK {
			t.Fatalf("tally %s: exit code %d, stderr:\n%s", strings.Join(args, " "), got.code, got.stderr)
		}
		return got
	}
	value := func(line string) string {
		t.Helper()
		var m struct {
			Value   string `json:"value"`
			Counter struct {
				Value string `json:"value"`
			} `json:"counter"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		return m.Value + m.Counter.Value
	}

	tally("inc", "x", "5")
	between := time.Now()
	tally("inc", "x", "3")
	if got := value(tally("--json", "get", "x", "--at", between.Format(time.RFC3339Nano)).stdout); got != "5" {
		t.Errorf("get --at between the increments: value %s, want 5", got)
	}
	if got := value(tally("--json", "get", "x").stdout); got != "8" {
		t.Errorf("get now: value %s, want 8", got)
	}

	watchCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	out := &lineWriter{lines: make(chan string, 100)}
	var stderr strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- run(watchCtx, []string{"--addr", srv.Addr, "--json", "watch", "x", "--min-interval", "50ms"}, func(string) string { return "" }, strings.NewReader(""), out, &stderr)
	}()
	next := func(want string) {
		t.Helper()
		for {
			select {
			case line := <-out.lines:
				if value(line) == want {
					return
				}
			case code := <-done:
				t.Fatalf("watch ended with %d before showing %s; stderr:\n%s", code, want, stderr.String())
			case <-ctx.Done():
				t.Fatalf("watch did not show %s", want)
			}
		}
	}
	next("8")
	tally("inc", "x", "2")
	next("10")
	interrupt()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("interrupted watch: exit code %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("watch did not end when interrupted")
	}
}
