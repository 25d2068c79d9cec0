package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

var (
	created = timestamppb.New(time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC))
	updated = timestamppb.New(time.Date(2025, 3, 15, 8, 0, 0, 0, time.UTC))
	read    = timestamppb.New(time.Date(2025, 3, 16, 12, 30, 0, 1000, time.UTC))
)

func counter(id string, value int64, shards int32) *tallyv1.Counter {
	return &tallyv1.Counter{
		Name: "counters/" + id, Value: value, ShardCount: shards,
		CreateTime: created, UpdateTime: updated, ReadTime: read,
	}
}

// basic is a counter as the BASIC view returns it: no value, no read time.
func basic(id string, shards int32) *tallyv1.Counter {
	c := counter(id, 0, shards)
	c.ReadTime = nil
	return c
}

// cliCase runs `tally --addr FAKE args...` against a fake answering with
// reply and checks the requests it received and everything printed.
type cliCase struct {
	name         string
	args         []string
	reply        replyFunc
	wantRequests []proto.Message
	want         outcome
}

func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, fake := startFake(t, tc.reply)
			got := runTally(context.Background(), append([]string{"--addr", addr}, tc.args...)...)
			fresh := checkRequests(t, fake.recorded(), tc.wantRequests)
			want := tc.want
			// A message naming the run's fresh key names the one it sent.
			want.stderr = strings.ReplaceAll(want.stderr, freshKey, fresh)
			checkOutcome(t, got, want)
		})
	}
}

func fieldMask(paths ...string) *fieldmaskpb.FieldMask {
	return &fieldmaskpb.FieldMask{Paths: paths}
}

func TestInc(t *testing.T) {
	applied := replyWith(&tallyv1.IncrementResponse{CommitTime: created})
	duplicate := replyWith(&tallyv1.IncrementResponse{CommitTime: created, Duplicate: true})
	const incUsage = "usage: tally [global flags] inc NAME [DELTA] [--key K | --no-key]\n"
	unavailable := status.Error(codes.Unavailable, "commit outcome unknown; retry with the same idempotency key")
	// The request of `inc x 5` with the run's fresh key, for each attempt.
	fresh := func(attempts int) []proto.Message {
		reqs := make([]proto.Message, attempts)
		for i := range reqs {
			reqs[i] = &tallyv1.IncrementRequest{Name: "counters/x", Delta: 5, IdempotencyKey: freshKey}
		}
		return reqs
	}
	unkeyed := []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 5}}
	runCases(t, []cliCase{
		{
			name:         "default delta is 1",
			args:         []string{"inc", "page-views"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/page-views", Delta: 1, IdempotencyKey: freshKey}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "full name and negative delta",
			args:         []string{"inc", "counters/page-views", "-5"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/page-views", Delta: -5, IdempotencyKey: freshKey}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "most negative int64",
			args:         []string{"inc", "x", "-9223372036854775808"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: -9223372036854775808, IdempotencyKey: freshKey}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "key after the arguments, duplicate",
			args:         []string{"inc", "x", "5", "--key", "k1"},
			reply:        duplicate,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 5, IdempotencyKey: "k1"}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z (duplicate)\n"},
		},
		{
			name:         "key before the arguments",
			args:         []string{"inc", "--key", "k1", "x", "-5"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: -5, IdempotencyKey: "k1"}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "key between the arguments, single dash and equals",
			args:         []string{"inc", "x", "-key=k1", "-5"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: -5, IdempotencyKey: "k1"}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "a key that looks like a number or a flag",
			args:         []string{"inc", "x", "--key", "-5"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 1, IdempotencyKey: "-5"}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "double dash ends the flags",
			args:         []string{"inc", "--", "-odd", "-2"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/-odd", Delta: -2, IdempotencyKey: freshKey}},
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "json",
			args:         []string{"--json", "inc", "x", "3"},
			reply:        applied,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 3, IdempotencyKey: freshKey}},
			want:         outcome{stdout: `{"commitTime":"2025-03-14T15:09:26.535897Z","duplicate":false}` + "\n"},
		},
		{
			name:         "json duplicate",
			args:         []string{"--json", "inc", "x", "3", "--key", "k"},
			reply:        duplicate,
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 3, IdempotencyKey: "k"}},
			want:         outcome{stdout: `{"commitTime":"2025-03-14T15:09:26.535897Z","duplicate":true}` + "\n"},
		},
		{
			name:         "out of range",
			args:         []string{"inc", "x", "9"},
			reply:        replyError(status.Error(codes.OutOfRange, "no shard of counters/x can absorb delta 9")),
			wantRequests: []proto.Message{&tallyv1.IncrementRequest{Name: "counters/x", Delta: 9, IdempotencyKey: freshKey}},
			want:         outcome{code: exitFailed, stderr: "tally: OUT_OF_RANGE: no shard of counters/x can absorb delta 9\n"},
		},
		{
			name:         "unavailable is retried with the same key",
			args:         []string{"inc", "x", "5"},
			reply:        failFirst(2, unavailable, applied),
			wantRequests: fresh(3),
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "aborted is retried with the same key",
			args:         []string{"inc", "x", "5"},
			reply:        failFirst(1, status.Error(codes.Aborted, "too much contention"), applied),
			wantRequests: fresh(2),
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "resource exhausted is retried with the same key",
			args:         []string{"inc", "x", "5"},
			reply:        failFirst(1, status.Error(codes.ResourceExhausted, "shedding load"), applied),
			wantRequests: fresh(2),
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			// The client reports no duplicate for its own key: it can only
			// be an earlier attempt of the same run.
			name:         "a retry answered duplicate of the run's own key",
			args:         []string{"inc", "x", "5"},
			reply:        failFirst(1, unavailable, duplicate),
			wantRequests: fresh(2),
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:  "the user's key on every attempt",
			args:  []string{"inc", "x", "5", "--key", "k1"},
			reply: failFirst(1, unavailable, applied),
			wantRequests: []proto.Message{
				&tallyv1.IncrementRequest{Name: "counters/x", Delta: 5, IdempotencyKey: "k1"},
				&tallyv1.IncrementRequest{Name: "counters/x", Delta: 5, IdempotencyKey: "k1"},
			},
			want: outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "attempts bound the retries, and the key is given for a run again",
			args:         []string{"--attempts", "3", "inc", "x", "5"},
			reply:        replyError(unavailable),
			wantRequests: fresh(3),
			want: outcome{code: exitFailed, stderr: "tally: UNAVAILABLE: commit outcome unknown; retry with the same idempotency key\n" +
				"tally: the increment may have been applied: to apply it at most once, run the command again with --key " + freshKey + "\n"},
		},
		{
			name:         "one attempt",
			args:         []string{"--attempts", "1", "inc", "x", "5"},
			reply:        failFirst(1, unavailable, applied),
			wantRequests: fresh(1),
			want: outcome{code: exitFailed, stderr: "tally: UNAVAILABLE: commit outcome unknown; retry with the same idempotency key\n" +
				"tally: the increment may have been applied: to apply it at most once, run the command again with --key " + freshKey + "\n"},
		},
		{
			name:         "a refusal is final, and certain",
			args:         []string{"inc", "x", "5"},
			reply:        replyError(status.Error(codes.PermissionDenied, "token may not write counters/x")),
			wantRequests: fresh(1),
			want:         outcome{code: exitFailed, stderr: "tally: PERMISSION_DENIED: token may not write counters/x\n"},
		},
		{
			name:         "no key",
			args:         []string{"inc", "x", "5", "--no-key"},
			reply:        applied,
			wantRequests: unkeyed,
			want:         outcome{stdout: "committed at 2025-03-14T15:09:26.535897Z\n"},
		},
		{
			name:         "no key, one attempt: unavailable",
			args:         []string{"inc", "--no-key", "x", "5"},
			reply:        failFirst(1, unavailable, applied),
			wantRequests: unkeyed,
			want:         outcome{code: exitFailed, stderr: "tally: UNAVAILABLE: commit outcome unknown; retry with the same idempotency key\n"},
		},
		{
			name:         "no key, one attempt: resource exhausted",
			args:         []string{"inc", "x", "5", "--no-key"},
			reply:        failFirst(1, status.Error(codes.ResourceExhausted, "shedding load"), applied),
			wantRequests: unkeyed,
			want:         outcome{code: exitFailed, stderr: "tally: RESOURCE_EXHAUSTED: shedding load\n"},
		},
		{
			name: "key and no key",
			args: []string{"inc", "x", "--key", "k1", "--no-key"},
			want: outcome{code: exitUsage, stderr: "tally: --key and --no-key exclude each other: give one or neither\n" + incUsage},
		},
		{
			name: "empty key",
			args: []string{"inc", "x", "--key", ""},
			want: outcome{code: exitUsage, stderr: "tally: --key must not be empty: leave it out for a fresh key\n" + incUsage},
		},
		{
			name: "fractional delta",
			args: []string{"inc", "x", "1.5"},
			want: outcome{code: exitUsage, stderr: `tally: DELTA "1.5" must be an integer from -9223372036854775808 to 9223372036854775807` + "\n" + incUsage},
		},
		{
			name: "delta beyond int64",
			args: []string{"inc", "x", "9223372036854775808"},
			want: outcome{code: exitUsage, stderr: `tally: DELTA "9223372036854775808" must be an integer from -9223372036854775808 to 9223372036854775807` + "\n" + incUsage},
		},
		{
			name: "missing name",
			args: []string{"inc"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\n" + incUsage},
		},
		{
			name: "empty name",
			args: []string{"inc", ""},
			want: outcome{code: exitUsage, stderr: "tally: NAME must not be empty\n" + incUsage},
		},
		{
			name: "extra argument",
			args: []string{"inc", "x", "1", "2"},
			want: outcome{code: exitUsage, stderr: `tally: unexpected argument "2"` + "\n" + incUsage},
		},
		{
			name: "unknown flag",
			args: []string{"inc", "x", "--bogus"},
			want: outcome{code: exitUsage, stderr: "tally: unknown flag --bogus\n" + incUsage},
		},
		{
			name: "flag without its value",
			args: []string{"inc", "x", "--key"},
			want: outcome{code: exitUsage, stderr: "tally: flag --key needs a value\n" + incUsage},
		},
		{
			name: "global flag after the command",
			args: []string{"inc", "x", "--json"},
			want: outcome{code: exitUsage, stderr: "tally: --json is a global flag: put it before the command (tally --json inc ...)\n" + incUsage},
		},
	})
}

func TestGet(t *testing.T) {
	const table = "" +
		"COUNTER     VALUE  SHARDS  CREATED                      UPDATED\n" +
		"page-views  42     4       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n"
	const twoRows = "" +
		"COUNTER  VALUE  SHARDS  CREATED                      UPDATED\n" +
		"a        -7     1       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
		"b        0      16      2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n"
	const jsonA = `{"name":"counters/a","value":"-7","shardCount":1,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","readTime":"2025-03-16T12:30:00.000001Z","adaptiveShards":false}` + "\n"
	const jsonB = `{"name":"counters/b","value":"0","shardCount":16,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","readTime":"2025-03-16T12:30:00.000001Z","adaptiveShards":false}` + "\n"
	batch := replyWith(&tallyv1.BatchGetCountersResponse{Counters: []*tallyv1.Counter{counter("a", -7, 1), counter("b", 0, 16)}})
	runCases(t, []cliCase{
		{
			name:         "one name uses GetCounter",
			args:         []string{"get", "page-views"},
			reply:        replyWith(counter("page-views", 42, 4)),
			wantRequests: []proto.Message{&tallyv1.GetCounterRequest{Name: "counters/page-views"}},
			want:         outcome{stdout: table},
		},
		{
			name:         "several names use BatchGetCounters",
			args:         []string{"get", "a", "counters/b"},
			reply:        batch,
			wantRequests: []proto.Message{&tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}}},
			want:         outcome{stdout: twoRows},
		},
		{
			name:         "json one object per counter",
			args:         []string{"--json", "get", "a", "b"},
			reply:        batch,
			wantRequests: []proto.Message{&tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}}},
			want:         outcome{stdout: jsonA + jsonB},
		},
		{
			name:         "not found",
			args:         []string{"get", "a"},
			reply:        replyError(status.Error(codes.NotFound, `counter "counters/a" does not exist`)),
			wantRequests: []proto.Message{&tallyv1.GetCounterRequest{Name: "counters/a"}},
			want:         outcome{code: exitFailed, stderr: `tally: NOT_FOUND: counter "counters/a" does not exist` + "\n"},
		},
		{
			name:         "at a time",
			args:         []string{"get", "page-views", "--at", "2025-03-16T12:00:00.5Z"},
			reply:        replyWith(counter("page-views", 42, 4)),
			wantRequests: []proto.Message{&tallyv1.GetCounterRequest{Name: "counters/page-views", ReadTime: timestamppb.New(time.Date(2025, 3, 16, 12, 0, 0, 5e8, time.UTC))}},
			want:         outcome{stdout: table},
		},
		{
			name:         "several at a time with an offset",
			args:         []string{"get", "--at", "2025-03-16T14:00:00+02:00", "a", "b"},
			reply:        batch,
			wantRequests: []proto.Message{&tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}, ReadTime: timestamppb.New(time.Date(2025, 3, 16, 12, 0, 0, 0, time.UTC))}},
			want:         outcome{stdout: twoRows},
		},
		{
			name:         "at a time in the future",
			args:         []string{"get", "a", "--at", "2999-01-01T00:00:00Z"},
			reply:        replyError(status.Error(codes.InvalidArgument, "read_time: must not be in the future")),
			wantRequests: []proto.Message{&tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: timestamppb.New(time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC))}},
			want:         outcome{code: exitFailed, stderr: "tally: INVALID_ARGUMENT: read_time: must not be in the future\n"},
		},
		{
			name: "at something that is not a time",
			args: []string{"get", "a", "--at", "yesterday"},
			want: outcome{code: exitUsage, stderr: `tally: invalid value "yesterday" for flag --at: want an RFC 3339 time such as 2025-03-14T15:09:26Z, or a time ago such as -5m` + "\nusage: tally [global flags] get NAME... [--at TIME]\n"},
		},
		{
			name: "missing name",
			args: []string{"get"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\nusage: tally [global flags] get NAME... [--at TIME]\n"},
		},
	})
}

func TestCreate(t *testing.T) {
	const createUsage = "usage: tally [global flags] create NAME [--shards N] [--adaptive]\n"
	runCases(t, []cliCase{
		{
			name:         "server default shards",
			args:         []string{"create", "x"},
			reply:        replyWith(counter("x", 0, 16)),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x"}},
			want:         outcome{stdout: "created counters/x with 16 shards\n"},
		},
		{
			name:         "full name and shards after",
			args:         []string{"create", "counters/x", "--shards", "8"},
			reply:        replyWith(counter("x", 0, 8)),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x", Counter: &tallyv1.Counter{ShardCount: 8}}},
			want:         outcome{stdout: "created counters/x with 8 shards\n"},
		},
		{
			name:         "shards before, one shard",
			args:         []string{"create", "--shards=1", "x"},
			reply:        replyWith(counter("x", 0, 1)),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x", Counter: &tallyv1.Counter{ShardCount: 1}}},
			want:         outcome{stdout: "created counters/x with 1 shard\n"},
		},
		{
			// An unset configuration and one of zeros mean the same to the server.
			name:         "explicit zero is the server's default",
			args:         []string{"create", "x", "--shards", "0"},
			reply:        replyWith(counter("x", 0, 16)),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x"}},
			want:         outcome{stdout: "created counters/x with 16 shards\n"},
		},
		{
			name:         "json",
			args:         []string{"--json", "create", "x"},
			reply:        replyWith(basic("x", 16)),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x"}},
			want:         outcome{stdout: `{"name":"counters/x","value":"0","shardCount":16,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","adaptiveShards":false}` + "\n"},
		},
		{
			name:         "adaptive",
			args:         []string{"create", "x", "--adaptive"},
			reply:        replyWith(&tallyv1.Counter{Name: "counters/x", ShardCount: 1, AdaptiveShards: true}),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x", Counter: &tallyv1.Counter{AdaptiveShards: true}}},
			want:         outcome{stdout: "created counters/x with 1 shard, adaptive\n"},
		},
		{
			name:         "adaptive with shards",
			args:         []string{"create", "x", "--adaptive", "--shards", "2"},
			reply:        replyWith(&tallyv1.Counter{Name: "counters/x", ShardCount: 2, AdaptiveShards: true}),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x", Counter: &tallyv1.Counter{ShardCount: 2, AdaptiveShards: true}}},
			want:         outcome{stdout: "created counters/x with 2 shards, adaptive\n"},
		},
		{
			name:         "already exists",
			args:         []string{"create", "x"},
			reply:        replyError(status.Error(codes.AlreadyExists, "counters/x already exists")),
			wantRequests: []proto.Message{&tallyv1.CreateCounterRequest{CounterId: "x"}},
			want:         outcome{code: exitFailed, stderr: "tally: ALREADY_EXISTS: counters/x already exists\n"},
		},
		{
			name: "shards not a number",
			args: []string{"create", "x", "--shards", "many"},
			want: outcome{code: exitUsage, stderr: `tally: invalid value "many" for flag --shards: want an integer from -2147483648 to 2147483647` + "\n" + createUsage},
		},
		{
			name: "missing name",
			args: []string{"create", "--shards", "2"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\n" + createUsage},
		},
	})
}

func TestResize(t *testing.T) {
	const resizeUsage = "usage: tally [global flags] resize NAME [--shards N] [--adaptive on|off]\n"
	req := &tallyv1.UpdateCounterRequest{
		Counter:    &tallyv1.Counter{Name: "counters/x", ShardCount: 8},
		UpdateMask: fieldMask("shard_count"),
	}
	runCases(t, []cliCase{
		{
			name:         "shards after",
			args:         []string{"resize", "x", "--shards", "8"},
			reply:        replyWith(counter("x", 0, 8)),
			wantRequests: []proto.Message{req},
			want:         outcome{stdout: "counters/x now has 8 shards\n"},
		},
		{
			name:         "shards before, full name",
			args:         []string{"resize", "--shards=8", "counters/x"},
			reply:        replyWith(counter("x", 0, 8)),
			wantRequests: []proto.Message{req},
			want:         outcome{stdout: "counters/x now has 8 shards\n"},
		},
		{
			name:         "json",
			args:         []string{"--json", "resize", "x", "--shards", "8"},
			reply:        replyWith(basic("x", 8)),
			wantRequests: []proto.Message{req},
			want:         outcome{stdout: `{"name":"counters/x","value":"0","shardCount":8,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","adaptiveShards":false}` + "\n"},
		},
		{
			name:  "adaptive on",
			args:  []string{"resize", "x", "--adaptive", "on"},
			reply: replyWith(&tallyv1.Counter{Name: "counters/x", ShardCount: 3, AdaptiveShards: true}),
			wantRequests: []proto.Message{&tallyv1.UpdateCounterRequest{
				Counter:    &tallyv1.Counter{Name: "counters/x", AdaptiveShards: true},
				UpdateMask: fieldMask("adaptive_shards"),
			}},
			want: outcome{stdout: "counters/x now has 3 shards, adaptive\n"},
		},
		{
			name:  "adaptive off with shards, one change",
			args:  []string{"resize", "x", "--adaptive=off", "--shards", "8"},
			reply: replyWith(counter("x", 0, 8)),
			wantRequests: []proto.Message{&tallyv1.UpdateCounterRequest{
				Counter:    &tallyv1.Counter{Name: "counters/x", ShardCount: 8},
				UpdateMask: fieldMask("shard_count", "adaptive_shards"),
			}},
			want: outcome{stdout: "counters/x now has 8 shards\n"},
		},
		{
			name: "adaptive neither on nor off",
			args: []string{"resize", "x", "--adaptive", "maybe"},
			want: outcome{code: exitUsage, stderr: `tally: invalid value "maybe" for flag --adaptive: want on or off` + "\n" + resizeUsage},
		},
		{
			name: "shards required",
			args: []string{"resize", "x"},
			want: outcome{code: exitUsage, stderr: "tally: missing --shards N or --adaptive on|off\n" + resizeUsage},
		},
		{
			name: "missing name",
			args: []string{"resize", "--shards", "3"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\n" + resizeUsage},
		},
	})
}

func TestReset(t *testing.T) {
	runCases(t, []cliCase{
		{
			name:         "a fresh key",
			args:         []string{"reset", "x"},
			reply:        replyWith(&tallyv1.ResetCounterResponse{CommitTime: updated}),
			wantRequests: []proto.Message{&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: freshKey}},
			want:         outcome{stdout: "committed at 2025-03-15T08:00:00.000000Z\n"},
		},
		{
			name:  "retried with the same key",
			args:  []string{"reset", "x"},
			reply: failFirst(1, status.Error(codes.Unavailable, "connection to storage lost"), replyWith(&tallyv1.ResetCounterResponse{CommitTime: updated})),
			wantRequests: []proto.Message{
				&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: freshKey},
				&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: freshKey},
			},
			want: outcome{stdout: "committed at 2025-03-15T08:00:00.000000Z\n"},
		},
		{
			name:         "the key is given for a run again",
			args:         []string{"--attempts=1", "reset", "x"},
			reply:        replyError(status.Error(codes.Unavailable, "connection to storage lost")),
			wantRequests: []proto.Message{&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: freshKey}},
			want: outcome{code: exitFailed, stderr: "tally: UNAVAILABLE: connection to storage lost\n" +
				"tally: the reset may have been applied: to apply it at most once, run the command again with --key " + freshKey + "\n"},
		},
		{
			name:         "no key, one attempt",
			args:         []string{"reset", "x", "--no-key"},
			reply:        replyError(status.Error(codes.Aborted, "too much contention")),
			wantRequests: []proto.Message{&tallyv1.ResetCounterRequest{Name: "counters/x"}},
			want:         outcome{code: exitFailed, stderr: "tally: ABORTED: too much contention\n"},
		},
		{
			name: "key and no key",
			args: []string{"reset", "x", "--no-key", "--key=r1"},
			want: outcome{code: exitUsage, stderr: "tally: --key and --no-key exclude each other: give one or neither\nusage: tally [global flags] reset NAME [--key K | --no-key]\n"},
		},
		{
			name:         "key before the name, duplicate",
			args:         []string{"reset", "--key", "r1", "counters/x"},
			reply:        replyWith(&tallyv1.ResetCounterResponse{CommitTime: updated, Duplicate: true}),
			wantRequests: []proto.Message{&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: "r1"}},
			want:         outcome{stdout: "committed at 2025-03-15T08:00:00.000000Z (duplicate)\n"},
		},
		{
			name:         "json",
			args:         []string{"--json", "reset", "x", "--key", "r1"},
			reply:        replyWith(&tallyv1.ResetCounterResponse{CommitTime: updated, Duplicate: true}),
			wantRequests: []proto.Message{&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: "r1"}},
			want:         outcome{stdout: `{"commitTime":"2025-03-15T08:00:00Z","duplicate":true}` + "\n"},
		},
		{
			name:         "not found",
			args:         []string{"reset", "x"},
			reply:        replyError(status.Error(codes.NotFound, "counters/x does not exist")),
			wantRequests: []proto.Message{&tallyv1.ResetCounterRequest{Name: "counters/x", IdempotencyKey: freshKey}},
			want:         outcome{code: exitFailed, stderr: "tally: NOT_FOUND: counters/x does not exist\n"},
		},
		{
			name: "missing name",
			args: []string{"reset", "--key", "r1"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\nusage: tally [global flags] reset NAME [--key K | --no-key]\n"},
		},
	})
}

func TestDelete(t *testing.T) {
	const deleteUsage = "usage: tally [global flags] delete NAME\n"
	runCases(t, []cliCase{
		{
			name:         "by id",
			args:         []string{"delete", "x"},
			reply:        replyWith(&emptypb.Empty{}),
			wantRequests: []proto.Message{&tallyv1.DeleteCounterRequest{Name: "counters/x"}},
			want:         outcome{stdout: "deleted counters/x\n"},
		},
		{
			name:         "json",
			args:         []string{"--json", "delete", "counters/x"},
			reply:        replyWith(&emptypb.Empty{}),
			wantRequests: []proto.Message{&tallyv1.DeleteCounterRequest{Name: "counters/x"}},
			want:         outcome{stdout: "{}\n"},
		},
		{
			name: "missing name",
			args: []string{"delete"},
			want: outcome{code: exitUsage, stderr: "tally: missing NAME\n" + deleteUsage},
		},
		{
			name: "two names",
			args: []string{"delete", "a", "b"},
			want: outcome{code: exitUsage, stderr: `tally: unexpected argument "b"` + "\n" + deleteUsage},
		},
	})
}

// TestGetAtTimeAgo reads as of a time given relative to now: the request
// carries a time five minutes before the command ran.
func TestGetAtTimeAgo(t *testing.T) {
	addr, fake := startFake(t, replyWith(counter("x", 1, 1)))
	before := time.Now()
	got := runTally(context.Background(), "--addr", addr, "get", "x", "--at", "-5m")
	after := time.Now()
	if got.code != exitOK {
		t.Fatalf("exit code %d, stderr:\n%s", got.code, got.stderr)
	}
	reqs := fake.recorded()
	if len(reqs) != 1 {
		t.Fatalf("requests %v", reqs)
	}
	at := reqs[0].(*tallyv1.GetCounterRequest).GetReadTime().AsTime()
	if at.Before(before.Add(-5*time.Minute)) || at.After(after.Add(-5*time.Minute)) {
		t.Errorf("read_time %v, want five minutes before the run (%v to %v)", at, before, after)
	}
}
