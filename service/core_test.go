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

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// serveCore serves the real core on an emulator: the answers below are the storage's own,
// translated in errors.go.
func serveCore(t *testing.T) tallyv1.CounterServiceClient {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{VersionRetention: time.Hour})
	store, err := shard.New(emulatortest.NewClient(t, em.Addr(), "service-test"), shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	return serve(t, New(Options{Counters: store}))
}

// Reads as of a time through the API: the value of then, NOT_FOUND before the counter existed,
// FAILED_PRECONDITION beyond the storage's versions, INVALID_ARGUMENT naming read_time in the
// future.
func TestReadTimeThroughTheCore(t *testing.T) {
	t.Parallel()
	c := serveCore(t)
	ctx := testContext(t)
	first, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 2}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: first.GetCommitTime()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetValue() != 5 || !got.GetReadTime().AsTime().Equal(first.GetCommitTime().AsTime()) {
		t.Errorf("as of the first commit: %v, want value 5 read at %v", got, first.GetCommitTime().AsTime())
	}
	batch, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a"}, ReadTime: first.GetCommitTime()})
	if err != nil || len(batch.GetCounters()) != 1 || batch.GetCounters()[0].GetValue() != 5 {
		t.Errorf("batch as of the first commit: %v, %v; want value 5", batch, err)
	}
	before := timestamppb.New(first.GetCommitTime().AsTime().Add(-time.Microsecond))
	if _, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: before}); status.Code(err) != codes.NotFound {
		t.Errorf("as of before the counter existed: %v, want NotFound", err)
	}
	old := timestamppb.New(time.Now().Add(-2 * time.Hour).Truncate(time.Minute))
	_, err = c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: old})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "read_time is older than") {
		t.Errorf("as of two hours ago: %v, want FailedPrecondition about read_time", err)
	}
	_, err = c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: timestamppb.New(time.Now().Add(time.Hour))})
	wantFieldViolation(t, err, "read_time")
}

// adaptive_shards through the API: set at creation, changed alone by UpdateCounter, shown by
// every read.
func TestAdaptiveShardsThroughTheCore(t *testing.T) {
	t.Parallel()
	c := serveCore(t)
	ctx := testContext(t)
	created, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{ShardCount: 2, AdaptiveShards: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !created.GetAdaptiveShards() || created.GetShardCount() != 2 {
		t.Errorf("created %v, want 2 adaptive shards", created)
	}
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 3}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a"})
	if err != nil || !got.GetAdaptiveShards() {
		t.Fatalf("read %v, %v; want adaptive shards", got, err)
	}
	updated, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
		Counter:    &tallyv1.Counter{Name: "counters/a", ShardCount: 999},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"adaptive_shards"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.GetAdaptiveShards() || updated.GetShardCount() != 2 || updated.GetValue() != 3 ||
		!updated.GetUpdateTime().AsTime().After(created.GetUpdateTime().AsTime()) {
		t.Errorf("updated %v, want 2 shards without adaptive shards, value 3, a later update_time", updated)
	}
	both, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
		Counter:    &tallyv1.Counter{Name: "counters/a", ShardCount: 5, AdaptiveShards: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count", "adaptive_shards"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{})
	if err != nil || len(list.GetCounters()) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	for _, c := range []*tallyv1.Counter{both, list.GetCounters()[0]} {
		if !c.GetAdaptiveShards() || c.GetShardCount() != 5 {
			t.Errorf("%v, want 5 adaptive shards", c)
		}
	}
}
