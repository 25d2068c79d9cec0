package service

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Times with sub-second parts, to catch a conversion that drops them.
var (
	createTime = time.Date(2026, 3, 1, 10, 0, 0, 123_456_000, time.UTC)
	updateTime = time.Date(2026, 3, 2, 11, 30, 0, 654_321_000, time.UTC)
	readTime   = time.Date(2026, 3, 3, 12, 45, 7, 1_000, time.UTC)
	commitTime = time.Date(2026, 3, 4, 13, 0, 59, 999_999_000, time.UTC)
)

// Read times the handlers pass on to the core: within the last hour, any nanosecond (the core
// truncates to the microsecond); beyond it, a whole minute.
var (
	pastRead = time.Now().Add(-10 * time.Minute).UTC()
	pitrRead = time.Now().Add(-48 * time.Hour).Truncate(time.Minute).UTC()
)

func ptr[T any](v T) *T { return &v }

// resize is the change UpdateCounter asks of the core for a mask of shard_count alone.
func resize(n int) shard.Change { return shard.Change{Shards: &n} }

func adaptive(c *shard.Counter) *shard.Counter {
	c.Adaptive = true
	return c
}

func adaptiveProto(c *tallyv1.Counter) *tallyv1.Counter {
	c.AdaptiveShards = true
	return c
}

// rpc is one call of a test through a client, returning its response.
type rpc func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error)

func TestHandlersCallCountersAndConvert(t *testing.T) {
	longKey := strings.Repeat("k", shard.MaxKeyBytes)
	longID := strings.Repeat("é", 750) // 1,500 bytes, the longest valid id
	tests := []struct {
		name   string
		expect func(m *MockCountersMockRecorder)
		call   rpc
		want   proto.Message
	}{
		{
			name: "Increment",
			expect: func(m *MockCountersMockRecorder) {
				m.Increment(gomock.Any(), "apples", int64(-7), "key-1").
					Return(shard.WriteResult{CommitTime: commitTime}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/apples", Delta: -7, IdempotencyKey: "key-1"})
			},
			want: &tallyv1.IncrementResponse{CommitTime: timestamppb.New(commitTime)},
		},
		{
			name: "Increment duplicate with the longest key",
			expect: func(m *MockCountersMockRecorder) {
				m.Increment(gomock.Any(), "apples", int64(0), longKey).
					Return(shard.WriteResult{CommitTime: commitTime, Duplicate: true}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/apples", IdempotencyKey: longKey})
			},
			want: &tallyv1.IncrementResponse{CommitTime: timestamppb.New(commitTime), Duplicate: true},
		},
		{
			name: "Increment of the longest id",
			expect: func(m *MockCountersMockRecorder) {
				m.Increment(gomock.Any(), longID, int64(1), "").Return(shard.WriteResult{CommitTime: commitTime}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/" + longID, Delta: 1})
			},
			want: &tallyv1.IncrementResponse{CommitTime: timestamppb.New(commitTime)},
		},
		{
			name: "BatchIncrement",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchIncrement(gomock.Any(), []shard.Delta{{CounterID: "a", Delta: 1}, {CounterID: "b", Delta: -2}, {CounterID: "a", Delta: 3}}, "batch-1").
					Return(shard.WriteResult{CommitTime: commitTime}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{
					Requests: []*tallyv1.IncrementRequest{
						{Name: "counters/a", Delta: 1}, {Name: "counters/b", Delta: -2}, {Name: "counters/a", Delta: 3},
					},
					IdempotencyKey: "batch-1",
				})
			},
			want: &tallyv1.BatchIncrementResponse{CommitTime: timestamppb.New(commitTime)},
		},
		{
			name: "BatchIncrement of the most requests, duplicate",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchIncrement(gomock.Any(), deltas(shard.MaxBatchDeltas), "").
					Return(shard.WriteResult{CommitTime: commitTime, Duplicate: true}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: incrementRequests(shard.MaxBatchDeltas)})
			},
			want: &tallyv1.BatchIncrementResponse{CommitTime: timestamppb.New(commitTime), Duplicate: true},
		},
		{
			name: "GetCounter",
			expect: func(m *MockCountersMockRecorder) {
				m.Get(gomock.Any(), "apples").Return(fullCounter("apples", 42), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/apples"})
			},
			want: fullProto("apples", 42),
		},
		{
			name: "GetCounter as of a time",
			expect: func(m *MockCountersMockRecorder) {
				m.GetAt(gomock.Any(), "apples", pastRead).Return(fullCounter("apples", 41), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/apples", ReadTime: timestamppb.New(pastRead)})
			},
			want: fullProto("apples", 41),
		},
		{
			name: "GetCounter as of a whole minute two days ago",
			expect: func(m *MockCountersMockRecorder) {
				m.GetAt(gomock.Any(), "apples", pitrRead).Return(fullCounter("apples", 40), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/apples", ReadTime: timestamppb.New(pitrRead)})
			},
			want: fullProto("apples", 40),
		},
		{
			name: "BatchGetCounters as of a time",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchGetAt(gomock.Any(), []string{"b", "a"}, pastRead).Return(
					[]*shard.Counter{fullCounter("b", 2), fullCounter("a", -1)}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/b", "counters/a"}, ReadTime: timestamppb.New(pastRead)})
			},
			want: &tallyv1.BatchGetCountersResponse{Counters: []*tallyv1.Counter{fullProto("b", 2), fullProto("a", -1)}},
		},
		{
			name: "BatchGetCounters keeps order and repeats",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchGet(gomock.Any(), []string{"b", "a", "b"}).Return(
					[]*shard.Counter{fullCounter("b", 2), fullCounter("a", -1), fullCounter("b", 2)}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/b", "counters/a", "counters/b"}})
			},
			want: &tallyv1.BatchGetCountersResponse{Counters: []*tallyv1.Counter{
				fullProto("b", 2), fullProto("a", -1), fullProto("b", 2),
			}},
		},
		{
			name: "BatchGetCounters of the most names",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchGet(gomock.Any(), ids(shard.MaxBatchGet)).Return(fullCounters(shard.MaxBatchGet), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: names(shard.MaxBatchGet)})
			},
			want: &tallyv1.BatchGetCountersResponse{Counters: fullProtos(shard.MaxBatchGet)},
		},
		{
			name: "CreateCounter ignores name and output fields",
			expect: func(m *MockCountersMockRecorder) {
				m.CreateWith(gomock.Any(), "apples", shard.Settings{Shards: shard.MaxShards}).Return(basicCounter("apples", shard.MaxShards), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{
					CounterId: "apples",
					Counter:   &tallyv1.Counter{Name: "counters/pears", Value: 9, ShardCount: shard.MaxShards},
				})
			},
			want: basicProto("apples", shard.MaxShards),
		},
		{
			name: "CreateCounter without a counter takes the default shards",
			expect: func(m *MockCountersMockRecorder) {
				m.CreateWith(gomock.Any(), "apples", shard.Settings{}).Return(basicCounter("apples", 16), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "apples"})
			},
			want: basicProto("apples", 16),
		},
		{
			name: "UpdateCounter with shard_count in the mask",
			expect: func(m *MockCountersMockRecorder) {
				m.Update(gomock.Any(), "apples", resize(32)).Return(basicCounter("apples", 32), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
					Counter:    &tallyv1.Counter{Name: "counters/apples", ShardCount: 32},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
				})
			},
			want: basicProto("apples", 32),
		},
		{
			name: "UpdateCounter without a mask resizes to the default",
			expect: func(m *MockCountersMockRecorder) {
				m.Update(gomock.Any(), "apples", resize(0)).Return(fullCounter("apples", 5), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/apples"}})
			},
			want: fullProto("apples", 5),
		},
		{
			name: "CreateCounter with adaptive shards",
			expect: func(m *MockCountersMockRecorder) {
				m.CreateWith(gomock.Any(), "apples", shard.Settings{Shards: 1, Adaptive: true}).Return(adaptive(basicCounter("apples", 1)), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "apples", Counter: &tallyv1.Counter{ShardCount: 1, AdaptiveShards: true}})
			},
			want: adaptiveProto(basicProto("apples", 1)),
		},
		{
			name: "UpdateCounter of adaptive_shards alone ignores shard_count",
			expect: func(m *MockCountersMockRecorder) {
				m.Update(gomock.Any(), "apples", shard.Change{Adaptive: ptr(true)}).Return(adaptive(fullCounter("apples", 5)), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
					Counter:    &tallyv1.Counter{Name: "counters/apples", ShardCount: -5, AdaptiveShards: true},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"adaptive_shards"}},
				})
			},
			want: adaptiveProto(fullProto("apples", 5)),
		},
		{
			name: "UpdateCounter of both fields at once",
			expect: func(m *MockCountersMockRecorder) {
				m.Update(gomock.Any(), "apples", shard.Change{Shards: ptr(8), Adaptive: ptr(false)}).Return(fullCounter("apples", 5), nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
					Counter:    &tallyv1.Counter{Name: "counters/apples", ShardCount: 8},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"adaptive_shards", "shard_count"}},
				})
			},
			want: fullProto("apples", 5),
		},
		{
			name: "ResetCounter",
			expect: func(m *MockCountersMockRecorder) {
				m.Reset(gomock.Any(), "apples", "reset-1").Return(shard.WriteResult{CommitTime: commitTime, Duplicate: true}, nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/apples", IdempotencyKey: "reset-1"})
			},
			want: &tallyv1.ResetCounterResponse{CommitTime: timestamppb.New(commitTime), Duplicate: true},
		},
		{
			name: "DeleteCounter",
			expect: func(m *MockCountersMockRecorder) {
				m.Delete(gomock.Any(), "apples").Return(nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: "counters/apples"})
			},
			want: &emptypb.Empty{},
		},
		{
			name: "ListCounters defaults: 50 per page, BASIC",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), shard.ListOptions{Prefix: "ap", PageSize: shard.DefaultPageSize, PageToken: "tok"}).
					Return([]*shard.Counter{basicCounter("apple", 4), basicCounter("apricot", 8)}, "next", nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.ListCounters(ctx, &tallyv1.ListCountersRequest{Prefix: "ap", PageToken: "tok"})
			},
			want: &tallyv1.ListCountersResponse{
				Counters:      []*tallyv1.Counter{basicProto("apple", 4), basicProto("apricot", 8)},
				NextPageToken: "next",
			},
		},
		{
			name: "ListCounters BASIC drops a value the core filled in",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), shard.ListOptions{PageSize: 7}).Return([]*shard.Counter{fullCounter("a", 3)}, "", nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.ListCounters(ctx, &tallyv1.ListCountersRequest{PageSize: 7, View: tallyv1.CounterView_COUNTER_VIEW_BASIC})
			},
			want: &tallyv1.ListCountersResponse{Counters: []*tallyv1.Counter{basicProto("a", 16)}},
		},
		{
			name: "ListCounters FULL with page_size capped",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), shard.ListOptions{PageSize: shard.MaxPageSize, WithValues: true}).
					Return([]*shard.Counter{fullCounter("a", 3)}, "", nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.ListCounters(ctx, &tallyv1.ListCountersRequest{PageSize: shard.MaxPageSize + 1, View: tallyv1.CounterView_COUNTER_VIEW_FULL})
			},
			want: &tallyv1.ListCountersResponse{Counters: []*tallyv1.Counter{fullProto("a", 3)}},
		},
		{
			name: "ListCounters of an empty page",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), shard.ListOptions{PageSize: shard.MaxPageSize, WithValues: true}).Return(nil, "", nil)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) (proto.Message, error) {
				return c.ListCounters(ctx, &tallyv1.ListCountersRequest{PageSize: shard.MaxPageSize, View: tallyv1.CounterView_COUNTER_VIEW_FULL})
			},
			want: &tallyv1.ListCountersResponse{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.expect(h.counters.EXPECT())
			got, err := tt.call(testContext(t), h.wire)
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("response\n%s\nwant\n%s", prototext.Format(got), prototext.Format(tt.want))
			}
		})
	}
}

func fullCounter(id string, value int64) *shard.Counter {
	return &shard.Counter{ID: id, Value: value, ShardCount: 16, CreateTime: createTime, UpdateTime: updateTime, ReadTime: readTime}
}

func fullProto(id string, value int64) *tallyv1.Counter {
	return &tallyv1.Counter{
		Name: "counters/" + id, Value: value, ShardCount: 16, CreateTime: timestamppb.New(createTime),
		UpdateTime: timestamppb.New(updateTime), ReadTime: timestamppb.New(readTime),
	}
}

// basicCounter is a counter whose value was not read: zero ReadTime.
func basicCounter(id string, shards int) *shard.Counter {
	return &shard.Counter{ID: id, ShardCount: shards, CreateTime: createTime, UpdateTime: updateTime}
}

func basicProto(id string, shards int32) *tallyv1.Counter {
	return &tallyv1.Counter{
		Name: "counters/" + id, ShardCount: shards, CreateTime: timestamppb.New(createTime), UpdateTime: timestamppb.New(updateTime),
	}
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%d", i)
	}
	return out
}

func names(n int) []string {
	out := ids(n)
	for i := range out {
		out[i] = "counters/" + out[i]
	}
	return out
}

func fullCounters(n int) []*shard.Counter {
	var out []*shard.Counter
	for i, id := range ids(n) {
		out = append(out, fullCounter(id, int64(i)))
	}
	return out
}

func fullProtos(n int) []*tallyv1.Counter {
	var out []*tallyv1.Counter
	for i, id := range ids(n) {
		out = append(out, fullProto(id, int64(i)))
	}
	return out
}

func deltas(n int) []shard.Delta {
	var out []shard.Delta
	for i, id := range ids(n) {
		out = append(out, shard.Delta{CounterID: id, Delta: int64(i)})
	}
	return out
}

func incrementRequests(n int) []*tallyv1.IncrementRequest {
	var out []*tallyv1.IncrementRequest
	for i, name := range names(n) {
		out = append(out, &tallyv1.IncrementRequest{Name: name, Delta: int64(i)})
	}
	return out
}
