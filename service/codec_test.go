package service

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"unicode/utf8"

	"go.uber.org/mock/gomock"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Wire-format builders. protowire does not validate UTF-8, so these can spell requests that
// proto.Marshal refuses to produce (FieldMask's paths must be UTF-8).

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func wireString(num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
}

func wireBytes(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func wireMessage(num protowire.Number, fields ...[]byte) []byte {
	return wireBytes(num, cat(fields...))
}

func wireVarint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

// wireMask is an update_mask (field 2 of UpdateCounterRequest) holding paths as given.
func wireMask(paths ...string) []byte {
	var fields [][]byte
	for _, p := range paths {
		fields = append(fields, wireString(pathsField, p))
	}
	return wireMessage(updateMaskField, fields...)
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("proto.Marshal(%T): %v", m, err)
	}
	return b
}

// withUnknown sets m's unknown fields and returns m.
func withUnknown[M proto.Message](m M, unknown []byte) M {
	m.ProtoReflect().SetUnknown(unknown)
	return m
}

func TestCodec(t *testing.T) {
	c := Codec()
	if c.Name() != "proto" {
		t.Errorf("Name() = %q, want proto", c.Name())
	}
	std := encoding.GetCodecV2("proto")
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	valid := &tallyv1.UpdateCounterRequest{
		Counter:    &tallyv1.Counter{Name: "counters/é", ShardCount: 7, CreateTime: timestamppb.New(createTime)},
		UpdateMask: mask("shard_count", ""),
	}
	// overlongMask is update_mask with its tag in two bytes instead of one.
	overlongMask := cat([]byte{updateMaskField<<3 | byte(protowire.BytesType) | 0x80, 0x00}, wireMask("\xff")[1:])
	tests := []struct {
		name string
		wire []byte
		into proto.Message
		want proto.Message // nil: the standard codec's error is expected
	}{
		{"valid request", mustMarshal(t, valid), &tallyv1.UpdateCounterRequest{}, valid},
		{"a path that is not UTF-8", cat(wireMessage(1, wireString(1, "counters/a"), wireVarint(3, 4)), wireMask("shard_count", "\xff")),
			&tallyv1.UpdateCounterRequest{}, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 4}, UpdateMask: mask("shard_count", "\xff")}},
		{"the paths of every update_mask, in wire order", cat(wireMask("\xfe"), wireMessage(1, wireString(1, "counters/\xff")), wireMask("b", "\xc3")),
			&tallyv1.UpdateCounterRequest{}, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/\xff"}, UpdateMask: mask("\xfe", "b", "\xc3")}},
		{"an overlong tag", overlongMask, &tallyv1.UpdateCounterRequest{}, &tallyv1.UpdateCounterRequest{UpdateMask: mask("\xff")}},
		{"fields unknown to FieldMask are kept", wireMessage(updateMaskField, wireString(1, "\xff"), wireVarint(9, 7), wireVarint(1, 3)),
			&tallyv1.UpdateCounterRequest{}, &tallyv1.UpdateCounterRequest{UpdateMask: withUnknown(mask("\xff"), cat(wireVarint(9, 7), wireVarint(1, 3)))}},
		{"fields unknown to the request are kept", cat(wireVarint(updateMaskField, 5), wireMask("\xff"), wireString(7, "\xff")),
			&tallyv1.UpdateCounterRequest{}, withUnknown(&tallyv1.UpdateCounterRequest{UpdateMask: mask("\xff")}, cat(wireVarint(updateMaskField, 5), wireString(7, "\xff")))},
		// The standard codec does this part: counter.proto does not make protobuf check its strings.
		{"other requests keep strings that are not UTF-8", cat(wireString(1, "counters/\xff"), wireVarint(2, 3), wireString(3, "\xc3")),
			&tallyv1.IncrementRequest{}, &tallyv1.IncrementRequest{Name: "counters/\xff", Delta: 3, IdempotencyKey: "\xc3"}},
		{"a path that is not UTF-8 and then malformed data", cat(wireMask("\xff"), []byte{1<<3 | 2}), &tallyv1.UpdateCounterRequest{}, nil},
		{"a malformed update_mask", wireBytes(updateMaskField, []byte{1<<3 | 2, 5, 'a'}), &tallyv1.UpdateCounterRequest{}, nil},
		{"a path that is not UTF-8 and a field number out of range", cat(wireMask("\xff"), protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3)),
			&tallyv1.UpdateCounterRequest{}, nil},
		{"malformed data of another request", []byte{2 << 3}, &tallyv1.IncrementRequest{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tt.wire)}, tt.into)
			if tt.want == nil {
				stdErr := std.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tt.wire)}, tt.into.ProtoReflect().New().Interface())
				if err == nil || stdErr == nil || err.Error() != stdErr.Error() {
					t.Errorf("Unmarshal: %v, want the standard codec's error %v", err, stdErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !proto.Equal(tt.into, tt.want) {
				t.Errorf("Unmarshal:\n got %v\nwant %v", prototext.Format(tt.into), prototext.Format(tt.want))
			}
		})
	}
	t.Run("not a message", func(t *testing.T) {
		if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wireString(1, "a"))}, new(string)); err == nil {
			t.Errorf("Unmarshal into a string succeeded, want an error")
		}
	})
	t.Run("Unmarshal resets the message", func(t *testing.T) {
		m := &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "stale"}, UpdateMask: mask("old")}
		if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wireMask("\xff"))}, m); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if want := (&tallyv1.UpdateCounterRequest{UpdateMask: mask("\xff")}); !proto.Equal(m, want) {
			t.Errorf("Unmarshal into a used message: got %v, want %v", m, want)
		}
	})
	t.Run("Marshal", func(t *testing.T) {
		want := &tallyv1.IncrementResponse{CommitTime: timestamppb.New(commitTime), Duplicate: true}
		data, err := c.Marshal(want)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		defer data.Free()
		got := &tallyv1.IncrementResponse{}
		if err := proto.Unmarshal(data.Materialize(), got); err != nil {
			t.Fatalf("proto.Unmarshal: %v", err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("round trip: got %v, want %v", got, want)
		}
		// Replies are the server's to keep valid (see convert.go); the codec refuses only what
		// protobuf refuses.
		if _, err := c.Marshal(&tallyv1.UpdateCounterRequest{UpdateMask: mask("\xff")}); err == nil {
			t.Errorf("Marshal of a FieldMask path that is not UTF-8 succeeded")
		}
	})
}

// rawCodec is a client codec that sends and receives *[]byte as is, so a test can send requests
// that protobuf would refuse to marshal, or malformed ones.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: marshal %T, want *[]byte", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: unmarshal into %T, want *[]byte", v)
	}
	*b = data.Materialize()
	return nil
}

// serveRaw runs a Server over counters on an in-memory listener with the given server options
// and returns a connection to it.
func serveRaw(t *testing.T, counters Counters, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	return serveConn(t, New(Options{Counters: counters}), opts...)
}

func invokeRaw(ctx context.Context, conn *grpc.ClientConn, method string, req []byte) ([]byte, error) {
	var resp []byte
	err := conn.Invoke(ctx, "/tally.v1.CounterService/"+method, &req, &resp, grpc.ForceCodecV2(rawCodec{}))
	return resp, err
}

func TestCodecServesValidRequests(t *testing.T) {
	counters := NewMockCounters(gomock.NewController(t))
	counters.EXPECT().Increment(gomock.Any(), "é", int64(-4), "k").Return(shard.WriteResult{CommitTime: commitTime}, nil)
	counters.EXPECT().Update(gomock.Any(), "a", resize(3)).Return(basicCounter("a", 3), nil)
	conn := serveRaw(t, counters, grpc.ForceServerCodecV2(Codec()))
	ctx := testContext(t)

	resp, err := invokeRaw(ctx, conn, "Increment", mustMarshal(t, &tallyv1.IncrementRequest{Name: "counters/é", Delta: -4, IdempotencyKey: "k"}))
	if err != nil {
		t.Fatalf("Increment: %v", err)
	}
	got := &tallyv1.IncrementResponse{}
	if err := proto.Unmarshal(resp, got); err != nil {
		t.Fatalf("decoding the response: %v", err)
	}
	if want := (&tallyv1.IncrementResponse{CommitTime: timestamppb.New(commitTime)}); !proto.Equal(got, want) {
		t.Errorf("Increment: got %v, want %v", got, want)
	}

	resp, err = invokeRaw(ctx, conn, "UpdateCounter", mustMarshal(t, &tallyv1.UpdateCounterRequest{
		Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 3}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
	}))
	if err != nil {
		t.Fatalf("UpdateCounter: %v", err)
	}
	counter := &tallyv1.Counter{}
	if err := proto.Unmarshal(resp, counter); err != nil {
		t.Fatalf("decoding the response: %v", err)
	}
	if want := basicProto("a", 3); !proto.Equal(counter, want) {
		t.Errorf("UpdateCounter: got %v, want %v", counter, want)
	}

	// Malformed requests still fail as gRPC fails any undecodable message, before a handler runs.
	for _, tt := range []struct{ method, name string }{{"Increment", "counters/\xff"}, {"UpdateCounter", "\xff"}} {
		req := cat(wireString(1, tt.name), []byte{2 << 3})
		if tt.method == "UpdateCounter" {
			req = cat(wireMask(tt.name), []byte{2 << 3})
		}
		if _, err := invokeRaw(ctx, conn, tt.method, req); status.Code(err) != codes.Internal {
			t.Errorf("malformed %s request: %v, want Internal", tt.method, err)
		}
	}
}

// TestStandardCodecAnswersMaskPathsThatAreNotUTF8WithInternal shows what the codec is for: with
// gRPC's own codec, a request whose strings are not UTF-8 reaches validation only when the
// strings are counter.proto's (utf8_validation = NONE), not FieldMask's. Should protobuf stop
// checking FieldMask's strings, the codec may be unnecessary.
func TestStandardCodecAnswersMaskPathsThatAreNotUTF8WithInternal(t *testing.T) {
	conn := serveRaw(t, NewMockCounters(gomock.NewController(t)))
	ctx := testContext(t)
	_, err := invokeRaw(ctx, conn, "UpdateCounter", cat(wireMessage(1, wireString(1, "counters/a")), wireMask("\xff")))
	if code := status.Code(err); code != codes.Internal {
		t.Errorf("update_mask path: %v, want Internal", err)
	}
	_, err = invokeRaw(ctx, conn, "Increment", cat(wireString(1, "counters/\xff\xfe"), wireVarint(2, 1)))
	wantFieldViolation(t, err, "name")
}

// FuzzUnmarshalUpdateRequest checks the codec's second decoding against protobuf's: the same
// message wherever protobuf accepts the input, and an acceptance protobuf refuses only for a path
// that is not UTF-8.
func FuzzUnmarshalUpdateRequest(f *testing.F) {
	seeds := [][]byte{
		mustMarshal(f, &tallyv1.UpdateCounterRequest{
			Counter:    &tallyv1.Counter{Name: "counters/a", ShardCount: 3, CreateTime: timestamppb.New(createTime)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count", "value"}},
		}),
		cat(wireMask("\xff"), wireMessage(1, wireString(1, "counters/\xfe")), wireMask("b")),
		wireMessage(updateMaskField, wireVarint(1, 3), wireString(9, "x"), wireString(1, "\xff")),
		cat(wireVarint(updateMaskField, 5), wireMask(), wireString(7, "\xff")),
		cat(protowire.AppendTag(nil, 9, protowire.StartGroupType), wireVarint(1, 1), protowire.AppendTag(nil, 9, protowire.EndGroupType), wireMask("\xc3")),
		cat(wireMask("\xff"), []byte{1<<3 | 2}),
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := &tallyv1.UpdateCounterRequest{}
		err := unmarshalUpdateRequest(data, got) // must not panic, whatever the input
		want := &tallyv1.UpdateCounterRequest{}
		stdErr := proto.Unmarshal(data, want)
		switch {
		case stdErr == nil:
			if err != nil {
				t.Fatalf("protobuf accepts %x, the codec fails: %v", data, err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("%x decodes differently:\ncodec    %v\nprotobuf %v", data, prototext.Format(got), prototext.Format(want))
			}
		case err == nil:
			if !slices.ContainsFunc(got.GetUpdateMask().GetPaths(), func(p string) bool { return !utf8.ValidString(p) }) {
				t.Fatalf("protobuf refuses %x (%v), the codec accepts it and every path is UTF-8: %v", data, stdErr, prototext.Format(got))
			}
		}
	})
}
