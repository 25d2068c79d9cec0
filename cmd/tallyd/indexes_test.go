package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/emulator/ttl"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
	"github.com/tally-dev/tally/terraform"
)

// The embedded emulator checks every query against the indexes the Terraform module deploys
// (terraform.Declared), as production does. These tests make every call of tally's API that
// queries Firestore, so that a query needing an index the declaration lacks fails here.

// deployedIndexes is the declaration's file, for the firestore-emulator binary's --indexes: an
// external emulator checks tally's queries against what Terraform deploys, as the embedded one does.
const deployedIndexes = "../../terraform/" + terraform.IndexesFile

// exerciseTally makes every call that reads or writes Firestore and returns the first failure,
// prefixed with the step.
func exerciseTally(ctx context.Context, c tallyv1.CounterServiceClient) error {
	step := func(name string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	for _, id := range []string{"hot", "web-a", "web-b"} {
		_, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: id, Counter: &tallyv1.Counter{ShardCount: 4}})
		if err := step("CreateCounter "+id, err); err != nil {
			return err
		}
	}
	_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 1})
	if err := step("Increment", err); err != nil {
		return err
	}
	for range 2 { // the second is a duplicate
		_, err = c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/hot", Delta: 2, IdempotencyKey: "key-1"})
		if err := step("Increment with a key", err); err != nil {
			return err
		}
	}
	_, err = c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{IdempotencyKey: "batch-1", Requests: []*tallyv1.IncrementRequest{
		{Name: "counters/hot", Delta: 3}, {Name: "counters/web-a", Delta: 4}}})
	if err := step("BatchIncrement", err); err != nil {
		return err
	}
	_, err = c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/implicit", Delta: 1})
	if err := step("Increment creating a counter", err); err != nil {
		return err
	}
	got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/hot"})
	if err := step("GetCounter", err); err != nil {
		return err
	}
	if got.GetValue() != 6 {
		return fmt.Errorf("GetCounter: hot = %d, want 6", got.GetValue())
	}
	_, err = c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/hot", ReadTime: got.GetReadTime()})
	if err := step("GetCounter at a read time", err); err != nil {
		return err
	}
	if err := watchOnce(ctx, c, "hot", 6); err != nil {
		return step("WatchCounter", err)
	}
	_, err = c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/hot", "counters/web-a"}})
	if err := step("BatchGetCounters", err); err != nil {
		return err
	}
	_, err = c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/hot"}, ReadTime: timestamppb.New(got.GetReadTime().AsTime())})
	if err := step("BatchGetCounters at a read time", err); err != nil {
		return err
	}
	for _, view := range []tallyv1.CounterView{tallyv1.CounterView_COUNTER_VIEW_BASIC, tallyv1.CounterView_COUNTER_VIEW_FULL} {
		for _, prefix := range []string{"", "web-"} {
			token := ""
			for {
				page, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{PageSize: 1, PageToken: token, Prefix: prefix, View: view})
				if err := step(fmt.Sprintf("ListCounters %s prefix %q", view, prefix), err); err != nil {
					return err
				}
				if token = page.GetNextPageToken(); token == "" {
					break
				}
			}
		}
	}
	for _, shards := range []int32{8, 2} {
		_, err = c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/hot", ShardCount: shards},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}}})
		if err := step(fmt.Sprintf("UpdateCounter to %d shards", shards), err); err != nil {
			return err
		}
	}
	_, err = c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/web-a", IdempotencyKey: "reset-1"})
	if err := step("ResetCounter", err); err != nil {
		return err
	}
	_, err = c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: "counters/web-b"})
	if err := step("DeleteCounter", err); err != nil {
		return err
	}
	if got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/hot"}); err != nil || got.GetValue() != 6 {
		return fmt.Errorf("GetCounter after the resizes: %v, %v; want 6", got, err)
	}
	return nil
}

// watchOnce opens a watch of the counter (Listen streams to Firestore) and waits for its first
// update, which must hold want.
func watchOnce(ctx context.Context, c tallyv1.CounterServiceClient, id string, want int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/" + id})
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if got := first.GetCounter().GetValue(); got != want {
		return fmt.Errorf("the first update has %d, want %d", got, want)
	}
	return nil
}

func TestEmbeddedEmulatorServesTallysQueriesWithTheDeclaredIndexes(t *testing.T) {
	t.Parallel()
	srv := startTallyd(t, "")
	if err := exerciseTally(context.Background(), dial(t, srv.addr)); err != nil {
		t.Fatal(err)
	}
}

// TestTallysQueriesNeedTheDeclaredIndexes runs tallyd against an external emulator checking
// changed declarations: each change breaks the call whose query needed what it removed, which
// shows that the test above would notice a missing index.
func TestTallysQueriesNeedTheDeclaredIndexes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		change   func(*index.File)
		lenient  bool
		wantStep string // the call that fails, "" for none
	}{
		{"as declared", func(*index.File) {}, false, ""},
		{"no composite index", func(f *index.File) { f.Indexes = nil }, false, "GetCounter"},
		{"the listed field exempted", func(f *index.File) {
			f.FieldOverrides = append(f.FieldOverrides, index.FieldOverride{CollectionGroup: "counters", FieldPath: "id", Indexes: []index.FieldOverrideItem{}})
		}, false, "ListCounters"},
		{"no composite index, checks off", func(f *index.File) { f.Indexes = nil }, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			decl, err := terraform.Declared()
			if err != nil {
				t.Fatal(err)
			}
			tt.change(decl)
			em := emulatortest.Start(t, emulator.Options{CheckIndexes: !tt.lenient, Indexes: decl})
			srv := startTallydEnv(t, map[string]string{"FIRESTORE_EMULATOR_HOST": em.Addr()}, "", "--storage", "emulator", "--project", "tally-indexes")
			err = exerciseTally(context.Background(), dial(t, srv.addr))
			if tt.wantStep == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantStep) {
				t.Fatalf("exercise: %v, want a failure of %s", err, tt.wantStep)
			}
			t.Logf("as expected: %v", err)
			if code := status.Code(err); code == codes.OK || code == codes.Unknown {
				t.Fatalf("%s failed with %v, want a status", tt.wantStep, code)
			}
		})
	}
}

// TestEmbeddedTTLPolicyIsTheDeclaredOne: the embedded emulator expires the idempotency records on
// the field the store writes, taken from the declaration Terraform deploys.
func TestEmbeddedTTLPolicyIsTheDeclaredOne(t *testing.T) {
	t.Parallel()
	decl, err := terraform.Declared()
	if err != nil {
		t.Fatal(err)
	}
	got := ttlPolicies(decl)
	want := []ttl.Policy{{CollectionGroup: shard.TTLCollectionGroup, Field: shard.TTLField}}
	if !slices.Equal(got, want) {
		t.Fatalf("TTL policies %v, want %v", got, want)
	}
}
