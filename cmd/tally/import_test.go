package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestExportPages: export lists every page with values and writes them; a
// listing that fails leaves no file, and an earlier export intact.
func TestExportPages(t *testing.T) {
	full := tallyv1.CounterView_COUNTER_VIEW_FULL
	var failing atomic.Bool
	addr, fake := startFake(t, func(req proto.Message) (proto.Message, error) {
		switch req.(*tallyv1.ListCountersRequest).GetPageToken() {
		case "":
			return &tallyv1.ListCountersResponse{Counters: []*tallyv1.Counter{counter("a", -1, 2)}, NextPageToken: "t1"}, nil
		case "t1":
			if failing.Load() {
				return nil, status.Error(codes.Unavailable, "storage unreachable")
			}
			return &tallyv1.ListCountersResponse{Counters: []*tallyv1.Counter{counter("ab", 9223372036854775807, 16)}}, nil
		}
		return nil, status.Error(codes.InvalidArgument, "bad token")
	})
	file := filepath.Join(t.TempDir(), "out.jsonl")
	got := runTally(context.Background(), "--addr", addr, "export", "--prefix", "a", "-o", file)
	if got.code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s", got.code, got.stderr)
	}
	checkRequests(t, fake.recorded(), []proto.Message{
		listRequest("a", "", exportPageSize, full), listRequest("a", "t1", exportPageSize, full),
	})
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) != 5 || lines[1] != `{"kind":"counter","id":"a","shard_count":2,"value":"-1"}` ||
		lines[2] != `{"kind":"counter","id":"ab","shard_count":16,"value":"9223372036854775807"}` || lines[3] != `{"kind":"end","counters":2}` {
		t.Errorf("export file:\n%s", data)
	}

	failing.Store(true)
	got = runTally(context.Background(), "--addr", addr, "export", "-o", file)
	checkOutcome(t, got, outcome{code: exitFailed, stderr: "tally: UNAVAILABLE: storage unreachable\n"})
	if again, err := os.ReadFile(file); err != nil || string(again) != string(data) {
		t.Errorf("after a failed export the file is %q (%v), want the earlier export", again, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("the failed export left files behind: %v", entries)
	}
}

// TestImportReportsTheServer: an error from the server is reported with its
// code and details, naming the counter, after a note on how far it got.
func TestImportReportsTheServer(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "invalid CreateCounterRequest").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "counter_id", Description: "reserved"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, fake := startFake(t, replyError(st.Err()))
	file := testHeader + "\n" + `{"kind":"counter","id":"__x__","shard_count":4,"value":"3"}` + "\n" + `{"kind":"end","counters":1}` + "\n"
	got := runTallyWith(context.Background(), nil, file, "--addr", addr, "import")
	checkOutcome(t, got, outcome{code: exitFailed, stderr: "" +
		"tally: import stopped at counter \"__x__\" (line 2), 0 of 1 counters done; run the same import again to continue\n" +
		"tally: INVALID_ARGUMENT: counter \"__x__\": invalid CreateCounterRequest\n" +
		"  counter_id: reserved\n"})
	checkRequests(t, fake.recorded(), []proto.Message{
		&tallyv1.CreateCounterRequest{CounterId: "__x__", Counter: &tallyv1.Counter{ShardCount: 4}},
	})
}

func TestImportUnreachable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.jsonl")
	data := testHeader + "\n" + `{"kind":"counter","id":"c","shard_count":1,"value":"3"}` + "\n" + `{"kind":"end","counters":1}` + "\n"
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := closedPort(t)
	got := runTally(context.Background(), "--addr", refused, "import", "-i", file)
	if got.code != exitUnreachable || !strings.Contains(got.stderr, "tally: cannot reach the server at "+refused) {
		t.Errorf("exit code %d, stderr:\n%s", got.code, got.stderr)
	}
	got = runTally(context.Background(), "--addr", refused, "import", "-i", file+".missing")
	if got.code != exitFailed || got.stderr != "tally: -i: open "+file+".missing: no such file or directory\n" {
		t.Errorf("missing file: exit code %d, stderr %q", got.code, got.stderr)
	}
}

// TestImportKeysFollowTheIncarnation: the keys derive from the counter's
// create_time, CreateCounter's for a counter the run creates, GetCounter's
// for one that exists; a server that leaves create_time out gets no key.
func TestImportKeysFollowTheIncarnation(t *testing.T) {
	h, err := readExport(strings.NewReader(testHeader+"\n"+`{"kind":"end","counters":0}`+"\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	created := &timestamppb.Timestamp{Seconds: 1741964966, Nanos: 535897000}
	existing := &timestamppb.Timestamp{Seconds: 1741964967, Nanos: 5000}
	key := func(ct string, n int) string { return importKey(defaultKeyPrefix, h.header, "c/"+ct, n) }
	file := testHeader + "\n" + `{"kind":"counter","id":"c","shard_count":4,"value":"3"}` + "\n" + `{"kind":"end","counters":1}` + "\n"
	createReq := &tallyv1.CreateCounterRequest{CounterId: "c", Counter: &tallyv1.Counter{ShardCount: 4}}
	getReq := &tallyv1.GetCounterRequest{Name: "counters/c"}
	increment := func(delta int64, key string) *tallyv1.IncrementRequest {
		return &tallyv1.IncrementRequest{Name: "counters/c", Delta: delta, IdempotencyKey: key}
	}
	tests := []struct {
		name  string
		reply replyFunc
		want  []proto.Message
		err   string
	}{
		{
			name: "created",
			reply: func(req proto.Message) (proto.Message, error) {
				if _, ok := req.(*tallyv1.CreateCounterRequest); ok {
					return &tallyv1.Counter{Name: "counters/c", ShardCount: 4, CreateTime: created}, nil
				}
				return &tallyv1.IncrementResponse{}, nil
			},
			want: []proto.Message{createReq, increment(3, key("1741964966.535897000", 0))},
		},
		{
			name: "existing, someone else's",
			reply: func(req proto.Message) (proto.Message, error) {
				switch req.(type) {
				case *tallyv1.CreateCounterRequest:
					return nil, status.Error(codes.AlreadyExists, "exists")
				case *tallyv1.GetCounterRequest:
					return &tallyv1.Counter{Name: "counters/c", Value: 7, ShardCount: 4, CreateTime: existing}, nil
				}
				return &tallyv1.IncrementResponse{}, nil
			},
			want: []proto.Message{createReq, getReq, increment(0, key("1741964967.000005000", 0))},
			err:  `counter "c": exists already (value 7, 4 shards)`,
		},
		{
			name: "no create_time",
			reply: func(req proto.Message) (proto.Message, error) {
				return &tallyv1.Counter{Name: "counters/c", ShardCount: 4}, nil
			},
			want: []proto.Message{createReq},
			err:  `counter "c": the server returned the counter without its create_time, from which the import's idempotency keys derive`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, fake := startFake(t, tc.reply)
			got := runTallyWith(context.Background(), nil, file, "--addr", addr, "import")
			if tc.err == "" && got.code != exitOK || tc.err != "" && !strings.Contains(got.stderr, tc.err) {
				t.Errorf("exit code %d, stderr:\n%s\nwant an error containing %q", got.code, got.stderr, tc.err)
			}
			checkRequests(t, fake.recorded(), tc.want)
		})
	}
}
