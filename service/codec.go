package service

import (
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Why this codec exists: the API promises that a request string that is not valid UTF-8 fails
// with INVALID_ARGUMENT naming the field. counter.proto turns protobuf's UTF-8 check off
// (features.utf8_validation = NONE), so its own strings reach validation through the standard
// codec. The one request string it cannot cover is update_mask's paths: google.protobuf.FieldMask
// is declared in field_mask.proto, a proto3 file, and protobuf checks its strings whatever the
// file that uses it says. gRPC answers a request that fails to decode with INTERNAL before any
// interceptor or handler runs, and a codec cannot choose another status, so the only way to name
// the field is to let the request through: when the standard codec refuses an
// UpdateCounterRequest, this one decodes it again with the paths taken as sent, and
// validateUpdate rejects the path. Changing update_mask to a repeated string would avoid the
// codec but change the API (the Go type, the JSON form and the descriptor).

// Codec returns the gRPC codec for the server, to be installed with grpc.ForceServerCodecV2. It
// is named "proto" and is the standard protobuf codec, except that an UpdateCounterRequest whose
// update_mask holds a path that is not valid UTF-8 is decoded with that path as sent.
func Codec() encoding.CodecV2 {
	return codec{std: encoding.GetCodecV2(protocodec.Name)}
}

// codec wraps the standard codec, which the grpc proto package registers on import.
type codec struct{ std encoding.CodecV2 }

var _ encoding.CodecV2 = codec{}

func (c codec) Name() string { return protocodec.Name }

func (c codec) Marshal(v any) (mem.BufferSlice, error) { return c.std.Marshal(v) }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.std.Unmarshal(data, v)
	req, ok := v.(*tallyv1.UpdateCounterRequest)
	if err == nil || !ok {
		return err
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	// The second decoding differs from the first only in not checking the paths' UTF-8, so it
	// fails too when the request is malformed; then the standard codec's error stands.
	if unmarshalUpdateRequest(buf.ReadOnlyData(), req) != nil {
		return err
	}
	return nil
}

// Field numbers of UpdateCounterRequest.update_mask and FieldMask.paths.
const (
	updateMaskField = 2
	pathsField      = 1
)

// unmarshalUpdateRequest decodes b into req as proto.Unmarshal does, except that update_mask's
// paths are kept as sent, UTF-8 or not: it takes the paths out of every update_mask on the wire,
// lets protobuf decode the rest, and then sets the paths in wire order, which is how protobuf
// merges the occurrences of a message field.
func unmarshalUpdateRequest(b []byte, req *tallyv1.UpdateCounterRequest) error {
	var rest []byte
	var paths []string
	for len(b) > 0 {
		num, typ, field, value, err := nextField(b)
		if err != nil {
			return err
		}
		b = b[len(field):]
		if num != updateMaskField || typ != protowire.BytesType {
			rest = append(rest, field...)
			continue
		}
		// nextField checked the framing, so the length prefixes are sound.
		mask, _ := protowire.ConsumeBytes(value)
		var maskRest []byte
		for len(mask) > 0 {
			num, typ, field, value, err := nextField(mask)
			if err != nil {
				return err
			}
			mask = mask[len(field):]
			if num != pathsField || typ != protowire.BytesType {
				maskRest = append(maskRest, field...) // unknown to FieldMask; protobuf keeps it
				continue
			}
			path, _ := protowire.ConsumeBytes(value)
			paths = append(paths, string(path))
		}
		rest = protowire.AppendBytes(protowire.AppendTag(rest, updateMaskField, protowire.BytesType), maskRest)
	}
	if err := proto.Unmarshal(rest, req); err != nil {
		return err
	}
	if len(paths) > 0 {
		req.UpdateMask.Paths = paths // not nil: a path came inside an update_mask
	}
	return nil
}

// nextField returns the first field of b: its number and wire type, all its bytes, and the bytes
// of its value (after the tag, which may be longer than the shortest encoding).
func nextField(b []byte) (num protowire.Number, typ protowire.Type, field, value []byte, err error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, protowire.ParseError(n)
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return 0, 0, nil, nil, protowire.ParseError(m)
	}
	return num, typ, b[:n+m], b[n : n+m], nil
}
