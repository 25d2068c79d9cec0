package main

import (
	"context"
	"encoding/json"
	"regexp"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/internal/dropproxy"
	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestExactlyOnceThroughLostAnswers runs inc and reset through a proxy that
// loses the answer of the first attempt after tallyd applied it: the command
// succeeds and the counter moves once. Without a key the lost answer is an
// error, though the write was applied; with the key a failed run prints, a
// second run finishes it without counting twice.
func TestExactlyOnceThroughLostAnswers(t *testing.T) {
	bins := testproc.Build(t, testproc.Tallyd)
	srv := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	var mu sync.Mutex
	strike := map[string]dropproxy.Action{} // the next call of a method, once
	proxy := dropproxy.Start(t, srv.Addr, func(c dropproxy.Call) dropproxy.Fault {
		mu.Lock()
		defer mu.Unlock()
		action, ok := strike[c.Method]
		if !ok {
			return dropproxy.Fault{}
		}
		delete(strike, c.Method)
		return dropproxy.Fault{Action: action}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	value := func() string {
		t.Helper()
		got := runTally(ctx, "--addr", srv.Addr, "--json", "get", "x")
		var c struct{ Value string }
		if err := json.Unmarshal([]byte(got.stdout), &c); got.code != exitOK || err != nil {
			t.Fatalf("get x: exit code %d, %v; stderr:\n%s", got.code, err, got.stderr)
		}
		return c.Value
	}
	const (
		inc   = tallyv1.CounterService_Increment_FullMethodName
		reset = tallyv1.CounterService_ResetCounter_FullMethodName
	)
	committed := regexp.MustCompile(`^committed at \S+\n$`)
	duplicate := regexp.MustCompile(`^committed at \S+ \(duplicate\)\n$`)
	unsure := regexp.MustCompile(`^tally: UNAVAILABLE: .*\ntally: the increment may have been applied: to apply it at most once, run the command again with --key ([A-Z2-7]{26})\n$`)
	var hintedKey string
	steps := []struct {
		name       string
		args       []string // after --addr PROXY; "$KEY" is the key an earlier step was told
		method     string
		fault      dropproxy.Action
		wantCode   int
		wantStdout *regexp.Regexp // nil: nothing
		wantStderr *regexp.Regexp // nil: nothing
		forwarded  int            // attempts that reached tallyd
		wantValue  string
	}{
		{"answer lost", []string{"inc", "x", "5"}, inc, dropproxy.DropAnswer, exitOK, committed, nil, 2, "5"},
		{"connection broken", []string{"inc", "x", "5"}, inc, dropproxy.BreakConnection, exitOK, committed, nil, 2, "10"},
		{"no key: applied, reported lost, not retried", []string{"inc", "x", "5", "--no-key"}, inc, dropproxy.DropAnswer,
			exitFailed, nil, regexp.MustCompile(`^tally: UNAVAILABLE: .*\n$`), 1, "15"},
		{"own key: the retry finds its first attempt", []string{"inc", "x", "5", "--key", "order-7"}, inc, dropproxy.DropAnswer,
			exitOK, duplicate, nil, 2, "20"},
		{"own key again", []string{"inc", "x", "5", "--key", "order-7"}, inc, dropproxy.Forward, exitOK, duplicate, nil, 1, "20"},
		{"reset through a broken connection", []string{"reset", "x"}, reset, dropproxy.BreakConnection, exitOK, committed, nil, 2, "0"},
		{"one attempt, answer lost: the key is printed", []string{"--attempts", "1", "inc", "x", "5"}, inc, dropproxy.DropAnswer,
			exitFailed, nil, unsure, 1, "5"},
		{"the printed key finishes it", []string{"inc", "x", "5", "--key", "$KEY"}, inc, dropproxy.Forward, exitOK, duplicate, nil, 1, "5"},
	}
	for _, st := range steps {
		// The steps run in order on one counter; a failed one fails the rest.
		ok := t.Run(st.name, func(t *testing.T) {
			args := append([]string{"--addr", proxy.Addr()}, st.args...)
			for i, a := range args {
				if a == "$KEY" {
					args[i] = hintedKey
				}
			}
			mu.Lock()
			strike[st.method] = st.fault
			mu.Unlock()
			before := proxy.Forwarded(st.method)
			got := runTally(ctx, args...)
			if got.code != st.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", got.code, st.wantCode, got.stderr)
			}
			checkText(t, "stdout", got.stdout, st.wantStdout)
			checkText(t, "stderr", got.stderr, st.wantStderr)
			if m := unsure.FindStringSubmatch(got.stderr); m != nil {
				hintedKey = m[1]
			}
			if n := proxy.Forwarded(st.method) - before; n != st.forwarded {
				t.Errorf("%d attempts reached tallyd, want %d", n, st.forwarded)
			}
			if v := value(); v != st.wantValue {
				t.Errorf("value %s, want %s", v, st.wantValue)
			}
		})
		if !ok {
			break
		}
	}
}

func checkText(t *testing.T, what, got string, want *regexp.Regexp) {
	t.Helper()
	switch {
	case want == nil && got != "":
		t.Errorf("%s = %q, want nothing", what, got)
	case want != nil && !want.MatchString(got):
		t.Errorf("%s = %q, want it to match %s", what, got, want)
	}
}

// TestFreshKeyPerRun checks that each run draws its own key: two runs of the
// same increment are two increments.
func TestFreshKeyPerRun(t *testing.T) {
	addr, fake := startFake(t, replyWith(&tallyv1.IncrementResponse{CommitTime: created}))
	for range 2 {
		if got := runTally(context.Background(), "--addr", addr, "inc", "x"); got.code != exitOK {
			t.Fatalf("exit code %d, stderr:\n%s", got.code, got.stderr)
		}
	}
	want := &tallyv1.IncrementRequest{Name: "counters/x", Delta: 1, IdempotencyKey: freshKey}
	reqs := fake.recorded()
	if len(reqs) != 2 {
		t.Fatalf("server got %d requests, want 2:\n%s", len(reqs), describe(reqs))
	}
	first := checkRequests(t, reqs[:1], []proto.Message{want})
	second := checkRequests(t, reqs[1:], []proto.Message{want})
	if first == second {
		t.Errorf("both runs sent key %q, want a fresh one each", first)
	}
}

// TestRetriesEndAtTheTimeout checks that --timeout covers the retries: a
// server that answers UNAVAILABLE forever gets attempts, all with the run's
// key, until the timeout, and the run fails then, naming the key.
func TestRetriesEndAtTheTimeout(t *testing.T) {
	addr, fake := startFake(t, replyError(status.Error(codes.Unavailable, "storage unreachable")))
	got := runTally(context.Background(), "--addr", addr, "--timeout", "300ms", "--attempts", "1000", "inc", "x")
	if got.code != exitFailed {
		t.Errorf("exit code %d, want %d; stderr:\n%s", got.code, exitFailed, got.stderr)
	}
	reqs := fake.recorded()
	// The backoff of the client's default policy fits at least three
	// attempts in 300ms, and far fewer than a thousand.
	if len(reqs) < 3 || len(reqs) > 20 {
		t.Fatalf("server got %d requests, want some, not a thousand:\n%s", len(reqs), describe(reqs))
	}
	want := make([]proto.Message, len(reqs))
	for i := range want {
		want[i] = &tallyv1.IncrementRequest{Name: "counters/x", Delta: 1, IdempotencyKey: freshKey}
	}
	key := checkRequests(t, reqs, want)
	// The timeout almost always passes while the client waits to retry; if
	// it passes during an attempt, that attempt's deadline is the error.
	hint := "tally: the increment may have been applied: to apply it at most once, run the command again with --key " + key + "\n"
	waiting := "tally: UNAVAILABLE: storage unreachable (retries ended at the --timeout)\n" + hint
	attempting := "tally: DEADLINE_EXCEEDED: context deadline exceeded\n" + hint
	if got.stderr != waiting && got.stderr != attempting {
		t.Errorf("stderr:\n%s\nwant:\n%s", got.stderr, waiting)
	}
}

// TestInterruptedWriteNamesItsKey interrupts an increment while tallyd has
// it: the run prints its key, since the server may have applied it.
func TestInterruptedWriteNamesItsKey(t *testing.T) {
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	addr, fake := startFake(t, func(proto.Message) (proto.Message, error) {
		interrupt() // as Ctrl-C while the server has the request
		// An error, so that the run fails whether it sees the answer or
		// the interrupt first.
		return nil, status.Error(codes.Unavailable, "commit outcome unknown")
	})
	got := runTally(ctx, "--addr", addr, "inc", "x")
	key := checkRequests(t, fake.recorded(), []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 1, IdempotencyKey: freshKey}})
	checkOutcome(t, got, outcome{code: exitFailed, stderr: "tally: interrupted\n" +
		"tally: the increment may have been applied: to apply it at most once, run the command again with --key " + key + "\n"})
}
