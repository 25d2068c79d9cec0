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
