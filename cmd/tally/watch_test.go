package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

func update(value int64, at time.Duration) *tallyv1.WatchCounterResponse {
	c := counter("x", value, 4)
	c.ReadTime = timestamppb.New(read.AsTime().Add(at))
	return &tallyv1.WatchCounterResponse{Counter: c}
}

func deletedAt(at time.Duration) *tallyv1.WatchCounterResponse {
	return &tallyv1.WatchCounterResponse{Deleted: true, Counter: &tallyv1.Counter{Name: "counters/x", ReadTime: timestamppb.New(read.AsTime().Add(at))}}
}

// TestWatch scripts two streams: the first breaks with UNAVAILABLE, the watch
// reconnects and the second reports a delete, then the counter's absence: the
// watch ends with NOT_FOUND after printing every update.
func TestWatch(t *testing.T) {
	watches := []watchScript{
		{updates: []*tallyv1.WatchCounterResponse{update(5, 0), update(9, time.Second)}, end: status.Error(codes.Unavailable, "server stopping")},
		{updates: []*tallyv1.WatchCounterResponse{update(12, 2*time.Second), deletedAt(3 * time.Second), update(0, 4*time.Second)}, end: status.Error(codes.Unavailable, "server stopping")},
		{end: status.Error(codes.NotFound, `counter "counters/x" does not exist`)},
	}
	request := &tallyv1.WatchCounterRequest{Name: "counters/x", MinInterval: durationpb.New(250 * time.Millisecond)}
	tests := []struct {
		name string
		args []string
		want outcome
	}{
		{
			name: "text",
			args: []string{"watch", "x", "--min-interval", "250ms"},
			want: outcome{code: exitFailed,
				stdout: "" +
					"2025-03-16T12:30:00.000001Z  5  (4 shards)\n" +
					"2025-03-16T12:30:01.000001Z  9  (4 shards)\n" +
					"2025-03-16T12:30:02.000001Z  12  (4 shards)\n" +
					"2025-03-16T12:30:03.000001Z  deleted\n" +
					"2025-03-16T12:30:04.000001Z  0  (4 shards)\n" +
					"2025-03-16T12:30:04.000001Z  deleted\n", // gone on reconnecting: no earlier than the last update
				stderr: "" +
					"tally: watch interrupted (server stopping); reconnecting\n" +
					"tally: watch interrupted (server stopping); reconnecting\n" +
					`tally: NOT_FOUND: counter "counters/x" does not exist` + "\n"},
		},
		{
			name: "json",
			args: []string{"--json", "watch", "--min-interval=250ms", "counters/x"},
			want: outcome{code: exitFailed,
				stdout: "" +
					`{"counter":{"name":"counters/x","value":"5","shardCount":4,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","readTime":"2025-03-16T12:30:00.000001Z","adaptiveShards":false},"deleted":false}` + "\n" +
					`{"counter":{"name":"counters/x","value":"9","shardCount":4,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","readTime":"2025-03-16T12:30:01.000001Z","adaptiveShards":false},"deleted":false}` + "\n" +
					`{"counter":{"name":"counters/x","value":"12","shardCount":4,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","readTime":"2025-03-16T12:30:02.000001Z","adaptiveShards":false},"deleted":false}` + "\n" +
					`{"counter":{"name":"counters/x","value":"0","shardCount":0,"readTime":"2025-03-16T12:30:03.000001Z","adaptiveShards":false},"deleted":true}` + "\n" +
					`{"counter":{"name":"counters/x","value":"0","shardCount":4,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","readTime":"2025-03-16T12:30:04.000001Z","adaptiveShards":false},"deleted":false}` + "\n" +
					`{"counter":{"name":"counters/x","value":"0","shardCount":0,"readTime":"2025-03-16T12:30:04.000001Z","adaptiveShards":false},"deleted":true}` + "\n",
				stderr: "" +
					"tally: watch interrupted (server stopping); reconnecting\n" +
					"tally: watch interrupted (server stopping); reconnecting\n" +
					`tally: NOT_FOUND: counter "counters/x" does not exist` + "\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, fake := startFakeServer(t, &fakeServer{watches: watches})
			got := runTally(context.Background(), append([]string{"--addr", addr}, tc.args...)...)
			checkOutcome(t, got, tc.want)
			checkRequests(t, fake.recorded(), []proto.Message{request, request, request})
		})
	}
}

// TestWatchInterrupted interrupts a watch that is waiting for updates: the
// normal end of a watch, exit status 0.
func TestWatchInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _ := startFakeServer(t, &fakeServer{
		watches: []watchScript{{updates: []*tallyv1.WatchCounterResponse{update(5, 0)}}},
		onWatch: cancel,
	})
	got := runTally(ctx, "--addr", addr, "watch", "x")
	if got.code != exitOK || got.stderr != "" {
		t.Errorf("exit code %d, stderr %q: want 0 and nothing", got.code, got.stderr)
	}
	// The update may or may not arrive before the interrupt; nothing else may.
	if got.stdout != "" && got.stdout != "2025-03-16T12:30:00.000001Z  5  (4 shards)\n" {
		t.Errorf("stdout %q", got.stdout)
	}
}

func TestWatchUsage(t *testing.T) {
	const watchUsage = "usage: tally [global flags] watch NAME [--min-interval D]\n"
	runCases(t, []cliCase{
		{
			name: "missing name",
			args: []string{"watch"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\n" + watchUsage},
		},
		{
			name: "negative interval",
			args: []string{"watch", "x", "--min-interval", "-1s"},
			want: outcome{code: exitUsage, stderr: "tally: --min-interval -1s must not be negative\n" + watchUsage},
		},
	})
}

// TestWatchNotFound starts a watch of a counter that does not exist: no
// update, and the server's error.
func TestWatchNotFound(t *testing.T) {
	addr, fake := startFakeServer(t, &fakeServer{watches: []watchScript{{end: status.Error(codes.NotFound, `counter "counters/x" does not exist`)}}})
	got := runTally(context.Background(), "--addr", addr, "watch", "x")
	checkOutcome(t, got, outcome{code: exitFailed, stderr: `tally: NOT_FOUND: counter "counters/x" does not exist` + "\n"})
	checkRequests(t, fake.recorded(), []proto.Message{&tallyv1.WatchCounterRequest{Name: "counters/x"}})
}
