package main

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestStringsThatAreNotUTF8AreInvalidArgument checks, against tallyd as run() builds it, that a
// request string that is not UTF-8 is INVALID_ARGUMENT naming the field, not gRPC's INTERNAL for
// an undecodable request: counter.proto's strings are not checked by protobuf, update_mask's paths
// (FieldMask's, which are) reach validation through the codec tallyd installs, and the page token
// is refused by the real core. service's tests cover every field; these are the ones that depend
// on tallyd's wiring or on the core.
func TestStringsThatAreNotUTF8AreInvalidArgument(t *testing.T) {
	const notUTF8 = "\x80\xff"
	c := dial(t, startTallyd(t, "").addr)
	ctx := context.Background()
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "a"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"name", func() error {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/" + notUTF8, Delta: 1})
			return err
		}, "name"},
		{"update_mask path", func() error {
			// protobuf refuses to marshal a FieldMask path that is not UTF-8, so the mask (field 2)
			// travels as unknown bytes of the request, which the server decodes as update_mask.
			var mask []byte
			for _, p := range []string{"shard_count", notUTF8} {
				mask = protowire.AppendString(protowire.AppendTag(mask, 1, protowire.BytesType), p)
			}
			req := &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 2}}
			req.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), mask))
			_, err := c.UpdateCounter(ctx, req)
			return err
		}, "update_mask.paths[1]"},
		{"page_token", func() error {
			_, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{PageToken: notUTF8})
			return err
		}, "page_token"},
		{"prefix", func() error {
			_, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{Prefix: notUTF8})
			return err
		}, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.call())
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("status %v %q, want InvalidArgument", st.Code(), st.Message())
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if len(fields) != 1 || fields[0] != tt.field {
				t.Errorf("BadRequest names %q, want %q", fields, tt.field)
			}
		})
	}
	// Nothing was changed: the counter still has the default shard count.
	got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetShardCount() == 2 {
		t.Errorf("the rejected UpdateCounter resized the counter: %v", got)
	}
}
