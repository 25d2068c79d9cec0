package storage

import (
	"encoding/binary"
	"fmt"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// Flag bits of a value's first byte; any other bit set means the value is corrupt.
const (
	flagTombstone  byte = 1 << 0
	flagValidUntil byte = 1 << 1
	knownFlags          = flagTombstone | flagValidUntil
)

// header is the decoded fixed part of a stored version; body is the marshalled pb.MapValue.
type header struct {
	deleted       bool
	updateTime    int64
	createTime    int64
	hasValidUntil bool
	validUntil    int64 // commit time of the version that replaced this one (history entries only)
}

var marshalFields = proto.MarshalOptions{Deterministic: true}

// encodeVersion lays out a version as described in the package documentation. validUntil is
// written only when hasValidUntil (history entries).
func encodeVersion(v *Version, hasValidUntil bool, validUntil int64) ([]byte, error) {
	var body []byte
	if !v.Deleted {
		var err error
		body, err = marshalFields.Marshal(&pb.MapValue{Fields: v.Fields})
		if err != nil {
			return nil, fmt.Errorf("%w: fields of %v cannot be marshalled: %v", ErrInvalid, v.Path, err)
		}
	}
	flags := byte(0)
	if v.Deleted {
		flags |= flagTombstone
	}
	if hasValidUntil {
		flags |= flagValidUntil
	}
	out := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(body))
	out = append(out, flags)
	out = binary.AppendVarint(out, v.UpdateTime)
	out = binary.AppendVarint(out, v.CreateTime)
	if hasValidUntil {
		out = binary.AppendVarint(out, validUntil)
	}
	return append(out, body...), nil
}

// decodeHeader splits a stored value into its header and the (possibly empty) marshalled fields.
// body aliases b.
func decodeHeader(b []byte) (header, []byte, error) {
	var h header
	if len(b) == 0 {
		return h, nil, fmt.Errorf("%w: empty version value", ErrCorrupt)
	}
	flags := b[0]
	if flags&^knownFlags != 0 {
		return h, nil, fmt.Errorf("%w: version flags 0x%02x include unknown bits", ErrCorrupt, flags)
	}
	h.deleted = flags&flagTombstone != 0
	h.hasValidUntil = flags&flagValidUntil != 0
	rest := b[1:]
	fields := []*int64{&h.updateTime, &h.createTime}
	if h.hasValidUntil {
		fields = append(fields, &h.validUntil)
	}
	for _, f := range fields {
		v, n := binary.Varint(rest)
		if n <= 0 {
			return h, nil, fmt.Errorf("%w: truncated version header", ErrCorrupt)
		}
		*f = v
		rest = rest[n:]
	}
	if h.deleted && len(rest) != 0 {
		return h, nil, fmt.Errorf("%w: tombstone carries %d bytes of fields", ErrCorrupt, len(rest))
	}
	return h, rest, nil
}

// decodeVersion builds the Version for path from a decoded header and body. The fields are
// copied out of body, so body may be reused afterwards.
func decodeVersion(path []string, h header, body []byte) (*Version, error) {
	v := &Version{Path: path, CreateTime: h.createTime, UpdateTime: h.updateTime, Deleted: h.deleted}
	if h.deleted {
		return v, nil
	}
	var mv pb.MapValue
	if err := proto.Unmarshal(body, &mv); err != nil {
		return nil, fmt.Errorf("%w: fields of %v: %v", ErrCorrupt, path, err)
	}
	v.Fields = mv.Fields
	if v.Fields == nil {
		v.Fields = map[string]*pb.Value{}
	}
	return v, nil
}
