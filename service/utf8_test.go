package service

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"go.uber.org/mock/gomock"
	"google.golang.org/protobuf/reflect/protoreflect"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// notUTF8 is a string that is not valid UTF-8: a lone continuation byte and a byte that never
// occurs in UTF-8.
const notUTF8 = "\x80\xff"

// utf8Cases are, for every string field of every request message (by its path from the request,
// as requestStringFields spells it), a request holding notUTF8 in that field and the field the
// rejection must name. Strings that the API ignores have no field: their request succeeds.
var utf8Cases = []struct {
	path   string
	expect func(m *MockCountersMockRecorder) // nil: Counters must not be called
	call   call
	field  string
}{
	{path: "IncrementRequest.name", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/" + notUTF8, Delta: 1})
		return err
	}, field: "name"},
	{path: "IncrementRequest.idempotency_key", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1, IdempotencyKey: notUTF8})
		return err
	}, field: "idempotency_key"},
	{path: "BatchIncrementRequest.requests.name", call: batchIncrement(&tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
		{Name: "counters/a", Delta: 1}, {Name: notUTF8, Delta: 1},
	}}), field: "requests[1].name"},
	{path: "BatchIncrementRequest.requests.idempotency_key", call: batchIncrement(&tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
		{Name: "counters/a", Delta: 1}, {Name: "counters/b", Delta: 1, IdempotencyKey: notUTF8},
	}}), field: "requests[1].idempotency_key"},
	{path: "BatchIncrementRequest.idempotency_key", call: batchIncrement(&tallyv1.BatchIncrementRequest{
		Requests: []*tallyv1.IncrementRequest{{Name: "counters/a", Delta: 1}}, IdempotencyKey: notUTF8,
	}), field: "idempotency_key"},
	{path: "GetCounterRequest.name", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/" + notUTF8})
		return err
	}, field: "name"},
	{path: "BatchGetCountersRequest.names", call: batchGet(&tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/" + notUTF8}}),
		field: "names[1]"},
	{path: "CreateCounterRequest.counter_id", call: create(&tallyv1.CreateCounterRequest{CounterId: notUTF8}), field: "counter_id"},
	// CreateCounter ignores counter.name, as the API says, whatever it holds.
	{path: "CreateCounterRequest.counter.name",
		expect: func(m *MockCountersMockRecorder) {
			m.CreateWith(gomock.Any(), "a", shard.Settings{}).Return(basicCounter("a", 16), nil)
		},
		call: create(&tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{Name: notUTF8}})},
	{path: "UpdateCounterRequest.counter.name", call: update(&tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/" + notUTF8, ShardCount: 2}}),
		field: "counter.name"},
	{path: "UpdateCounterRequest.update_mask.paths", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		// protobuf refuses to marshal a FieldMask path that is not UTF-8, but not unknown fields:
		// the mask goes on the wire as unknown bytes of field 2, which the server decodes as
		// update_mask.
		req := &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 2}}
		req.ProtoReflect().SetUnknown(wireMask("shard_count", notUTF8))
		_, err := c.UpdateCounter(ctx, req)
		return err
	}, field: "update_mask.paths[1]"},
	{path: "ResetCounterRequest.name", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/" + notUTF8})
		return err
	}, field: "name"},
	{path: "ResetCounterRequest.idempotency_key", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/a", IdempotencyKey: notUTF8})
		return err
	}, field: "idempotency_key"},
	{path: "DeleteCounterRequest.name", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: "counters/" + notUTF8})
		return err
	}, field: "name"},
	{path: "WatchCounterRequest.name", call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
		stream, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/" + notUTF8})
		if err == nil {
			_, err = stream.Recv()
		}
		return err
	}, field: "name"},
	{path: "ListCountersRequest.prefix", call: list(&tallyv1.ListCountersRequest{Prefix: notUTF8}), field: "prefix"},
	// The page token is opaque to the service and checked by the core, here the mock; the core's
	// own answer to a token that is not UTF-8 is tested in cmd/tallyd, over the real core.
	{path: "ListCountersRequest.page_token",
		expect: func(m *MockCountersMockRecorder) {
			m.List(gomock.Any(), shard.ListOptions{PageSize: shard.DefaultPageSize, PageToken: notUTF8}).
				Return(nil, "", fmt.Errorf("list: %w", shard.ErrBadPageToken))
		},
		call: list(&tallyv1.ListCountersRequest{PageToken: notUTF8}), field: "page_token"},
}

// TestStringsThatAreNotUTF8AreInvalidArgument sends, over gRPC through the server's codec as
// tallyd installs it, a string that is not UTF-8 in each string field of each request, which must
// fail with INVALID_ARGUMENT naming the field, not with gRPC's INTERNAL for an undecodable request.
func TestStringsThatAreNotUTF8AreInvalidArgument(t *testing.T) {
	for _, tt := range utf8Cases {
		t.Run(tt.path, func(t *testing.T) {
			h := newHarness(t)
			if tt.expect != nil {
				tt.expect(h.counters.EXPECT())
			}
			err := tt.call(testContext(t), h.wire)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("request with an ignored string that is not UTF-8: %v, want success", err)
				}
				return
			}
			wantFieldViolation(t, err, tt.field)
		})
	}
}

// TestUTF8CasesCoverEveryRequestString keeps utf8Cases complete: a string field added to a request
// needs a case.
func TestUTF8CasesCoverEveryRequestString(t *testing.T) {
	var covered []string
	for _, tt := range utf8Cases {
		covered = append(covered, tt.path)
	}
	want := requestStringFields()
	slices.Sort(covered)
	slices.Sort(want)
	if !slices.Equal(covered, want) {
		t.Errorf("utf8Cases cover\n%q\nbut the request string fields are\n%q", covered, want)
	}
}

// requestStringFields lists every string field reachable from the input of a CounterService
// method, as Message.field.subfield paths from the request message.
func requestStringFields() []string {
	var out []string
	var walk func(prefix string, md protoreflect.MessageDescriptor, depth int)
	walk = func(prefix string, md protoreflect.MessageDescriptor, depth int) {
		if depth > 5 { // the API has no recursive messages; this only stops a future cycle
			return
		}
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			path := prefix + "." + string(fd.Name())
			switch {
			case fd.Kind() == protoreflect.StringKind:
				out = append(out, path)
			case fd.Message() != nil:
				walk(path, fd.Message(), depth+1)
			}
		}
	}
	methods := tallyv1.File_tally_v1_counter_proto.Services().ByName("CounterService").Methods()
	for i := range methods.Len() {
		in := methods.Get(i).Input()
		walk(string(in.Name()), in, 0)
	}
	return out
}
