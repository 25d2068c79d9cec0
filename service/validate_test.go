package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// call is one RPC of a test through a client, keeping only its error.
type call func(ctx context.Context, c tallyv1.CounterServiceClient) error

// badInput is a request a handler must reject with INVALID_ARGUMENT naming field, without
// calling Counters.
type badInput struct {
	name  string
	call  call
	field string
}

// badValue is a malformed string.
type badValue struct {
	name  string
	value string
}

var badIDs = []badValue{
	{name: "empty id", value: ""},
	{name: "id of 1,501 bytes", value: strings.Repeat("x", 1501)},
	{name: "slash in id", value: "a/b"},
	{name: "invalid UTF-8 id", value: "a\xffb"},
	{name: "id .", value: "."},
	{name: "id ..", value: ".."},
	{name: "reserved id __x__", value: "__x__"},
	{name: "reserved id ____", value: "____"},
}

func badNames() []badValue {
	out := []badValue{
		{name: "empty name", value: ""},
		{name: "missing prefix", value: "apples"},
		{name: "other collection", value: "gauges/apples"},
		{name: "leading slash", value: "/counters/apples"},
		{name: "prefix without slash", value: "countersapples"},
	}
	for _, id := range badIDs {
		out = append(out, badValue{name: id.name, value: "counters/" + id.value})
	}
	return out
}

var badKeys = []badValue{
	{name: "key of 1,501 bytes", value: strings.Repeat("k", shard.MaxKeyBytes+1)},
	{name: "invalid UTF-8 key", value: "k\xc3(k"},
}

// nameFields are the RPCs that take a counter name, the field it is in and how to send it.
var nameFields = []struct {
	rpc, field string
	send       func(name string) call
}{
	{"Increment", "name", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: name, Delta: 1})
			return err
		}
	}},
	{"BatchIncrement", "requests[1].name", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
				{Name: "counters/ok", Delta: 1}, {Name: name, Delta: 1},
			}})
			return err
		}
	}},
	{"GetCounter", "name", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: name})
			return err
		}
	}},
	{"BatchGetCounters", "names[2]", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b", name}})
			return err
		}
	}},
	{"UpdateCounter", "counter.name", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: name, ShardCount: 4}})
			return err
		}
	}},
	{"ResetCounter", "name", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: name})
			return err
		}
	}},
	{"DeleteCounter", "name", func(name string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: name})
			return err
		}
	}},
}

// keyFields are the RPCs that take an idempotency key.
var keyFields = []struct {
	rpc  string
	send func(key string) call
}{
	{"Increment", func(key string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1, IdempotencyKey: key})
			return err
		}
	}},
	{"BatchIncrement", func(key string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{
				Requests: []*tallyv1.IncrementRequest{{Name: "counters/a", Delta: 1}}, IdempotencyKey: key,
			})
			return err
		}
	}},
	{"ResetCounter", func(key string) call {
		return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/a", IdempotencyKey: key})
			return err
		}
	}},
}

func create(req *tallyv1.CreateCounterRequest) call {
	return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.CreateCounter(ctx, req)
		return err
	}
}

func update(req *tallyv1.UpdateCounterRequest) call {
	return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.UpdateCounter(ctx, req)
		return err
	}
}

func batchIncrement(req *tallyv1.BatchIncrementRequest) call {
	return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.BatchIncrement(ctx, req)
		return err
	}
}

func batchGet(req *tallyv1.BatchGetCountersRequest) call {
	return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.BatchGetCounters(ctx, req)
		return err
	}
}

func getAt(at time.Time) call { return getAtTimestamp(timestamppb.New(at)) }

func getAtTimestamp(ts *timestamppb.Timestamp) call {
	return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: ts})
		return err
	}
}

func list(req *tallyv1.ListCountersRequest) call {
	return func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.ListCounters(ctx, req)
		return err
	}
}

func badInputs() []badInput {
	var out []badInput
	for _, nf := range nameFields {
		for _, bad := range badNames() {
			out = append(out, badInput{name: nf.rpc + "/" + bad.name, call: nf.send(bad.value), field: nf.field})
		}
	}
	for _, bad := range badIDs {
		out = append(out, badInput{
			name: "CreateCounter/" + bad.name, call: create(&tallyv1.CreateCounterRequest{CounterId: bad.value}),
			field: "counter_id",
		})
	}
	for _, kf := range keyFields {
		for _, bad := range badKeys {
			out = append(out, badInput{name: kf.rpc + "/" + bad.name, call: kf.send(bad.value), field: "idempotency_key"})
		}
	}
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	apples := func(shards int32) *tallyv1.Counter {
		return &tallyv1.Counter{Name: "counters/apples", ShardCount: shards}
	}
	return append(out, []badInput{
		{name: "CreateCounter/shard_count 1001", call: create(&tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{ShardCount: 1001}}), field: "counter.shard_count"},
		{name: "CreateCounter/shard_count -1", call: create(&tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{ShardCount: -1}}), field: "counter.shard_count"},
		{name: "UpdateCounter/shard_count 1001", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(1001)}), field: "counter.shard_count"},
		{name: "UpdateCounter/shard_count -1", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(-1), UpdateMask: mask("shard_count")}), field: "counter.shard_count"},
		{name: "UpdateCounter/no counter", call: update(&tallyv1.UpdateCounterRequest{UpdateMask: mask("shard_count")}), field: "counter"},
		{name: "UpdateCounter/mask path value", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(4), UpdateMask: mask("value")}), field: "update_mask.paths[0]"},
		{name: "UpdateCounter/mask path name second", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(4), UpdateMask: mask("shard_count", "name")}), field: "update_mask.paths[1]"},
		{name: "UpdateCounter/mask path in JSON spelling", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(4), UpdateMask: mask("shardCount")}), field: "update_mask.paths[0]"},
		{name: "UpdateCounter/mask path adaptive_shards in JSON spelling", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(4), UpdateMask: mask("adaptiveShards")}), field: "update_mask.paths[0]"},
		{name: "UpdateCounter/shard_count -1 beside adaptive_shards", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(-1), UpdateMask: mask("adaptive_shards", "shard_count")}), field: "counter.shard_count"},
		{name: "UpdateCounter/mask path wildcard", call: update(&tallyv1.UpdateCounterRequest{Counter: apples(4), UpdateMask: mask("*")}), field: "update_mask.paths[0]"},
		{name: "BatchIncrement/no requests", call: batchIncrement(&tallyv1.BatchIncrementRequest{IdempotencyKey: "k"}), field: "requests"},
		{name: "BatchIncrement/501 requests", call: batchIncrement(&tallyv1.BatchIncrementRequest{Requests: incrementRequests(shard.MaxBatchDeltas + 1)}), field: "requests"},
		{name: "BatchIncrement/key on a sub-request", call: batchIncrement(&tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
			{Name: "counters/a", Delta: 1}, {Name: "counters/b", Delta: 1, IdempotencyKey: "k"},
		}}), field: "requests[1].idempotency_key"},
		{name: "BatchGetCounters/no names", call: batchGet(&tallyv1.BatchGetCountersRequest{}), field: "names"},
		{name: "BatchGetCounters/101 names", call: batchGet(&tallyv1.BatchGetCountersRequest{Names: names(shard.MaxBatchGet + 1)}), field: "names"},
		{name: "GetCounter/read_time in the future", call: getAt(time.Now().Add(time.Hour)), field: "read_time"},
		{name: "GetCounter/read_time at the Unix epoch", call: getAtTimestamp(&timestamppb.Timestamp{}), field: "read_time"},
		{name: "GetCounter/read_time before the Unix epoch", call: getAt(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)), field: "read_time"},
		{name: "GetCounter/read_time invalid nanos", call: getAtTimestamp(&timestamppb.Timestamp{Seconds: time.Now().Unix() - 60, Nanos: -1}), field: "read_time"},
		{name: "GetCounter/read_time beyond the year 9999", call: getAtTimestamp(&timestamppb.Timestamp{Seconds: 253402300800}), field: "read_time"},
		{name: "GetCounter/read_time two hours ago, not a whole minute", call: getAt(time.Now().Add(-2 * time.Hour).Truncate(time.Minute).Add(time.Second)), field: "read_time"},
		{name: "BatchGetCounters/read_time in the future", call: batchGet(&tallyv1.BatchGetCountersRequest{
			Names: []string{"counters/a"}, ReadTime: timestamppb.New(time.Now().Add(time.Minute)),
		}), field: "read_time"},
		{name: "ListCounters/page_size -1", call: list(&tallyv1.ListCountersRequest{PageSize: -1}), field: "page_size"},
		{name: "ListCounters/prefix with slash", call: list(&tallyv1.ListCountersRequest{Prefix: "a/"}), field: "prefix"},
		{name: "ListCounters/prefix of 1,501 bytes", call: list(&tallyv1.ListCountersRequest{Prefix: strings.Repeat("p", 1501)}), field: "prefix"},
		{name: "ListCounters/invalid UTF-8 prefix", call: list(&tallyv1.ListCountersRequest{Prefix: "\xff"}), field: "prefix"},
		{name: "ListCounters/unknown view", call: list(&tallyv1.ListCountersRequest{View: tallyv1.CounterView(99)}), field: "view"},
	}...)
}

func TestBadInputIsRejectedBeforeCounters(t *testing.T) {
	for _, tt := range badInputs() {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t) // no expectations: any call of Counters fails the test
			wantFieldViolation(t, tt.call(testContext(t), h.wire), tt.field)
		})
	}
}

func TestRejectionMessagesStayShort(t *testing.T) {
	const limit = 200
	huge := strings.Repeat("x", 1<<20)
	tests := []struct {
		name string
		call call
	}{
		{"name without prefix", func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: huge})
			return err
		}},
		{"id too long", func(ctx context.Context, c tallyv1.CounterServiceClient) error {
			_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/" + huge})
			return err
		}},
		{"mask path", update(&tallyv1.UpdateCounterRequest{
			Counter: &tallyv1.Counter{Name: "counters/a"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{huge}},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			st := status.Convert(tt.call(testContext(t), h.wire))
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("status %v, want InvalidArgument", st.Code())
			}
			if msg := st.Message(); len(msg) > limit {
				t.Errorf("message is %d bytes, want at most %d: %.80q…", len(msg), limit, msg)
			}
		})
	}
}
