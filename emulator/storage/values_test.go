package storage

import (
	"errors"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

func TestVersionEncodingRoundTrip(t *testing.T) {
	fields := map[string]*pb.Value{
		"n": {ValueType: &pb.Value_IntegerValue{IntegerValue: -7}},
		"m": {ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: fieldsN(1)}}},
		"s": {ValueType: &pb.Value_StringValue{StringValue: "x\x00y"}},
	}
	tests := []struct {
		name          string
		v             Version
		hasValidUntil bool
		validUntil    int64
	}{
		{name: "live latest", v: Version{CreateTime: 5, UpdateTime: 9, Fields: fields}},
		{name: "live without fields", v: Version{CreateTime: 1, UpdateTime: 1, Fields: map[string]*pb.Value{}}},
		{name: "live history", v: Version{CreateTime: 5, UpdateTime: 9, Fields: fields}, hasValidUntil: true, validUntil: 12},
		{name: "tombstone", v: Version{UpdateTime: 30, Deleted: true}},
		{name: "tombstone history", v: Version{CreateTime: 3, UpdateTime: 30, Deleted: true}, hasValidUntil: true, validUntil: 1 << 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := encodeVersion(&tt.v, tt.hasValidUntil, tt.validUntil)
			if err != nil {
				t.Fatal(err)
			}
			h, body, err := decodeHeader(enc)
			if err != nil {
				t.Fatal(err)
			}
			if h.hasValidUntil != tt.hasValidUntil || h.validUntil != tt.validUntil {
				t.Errorf("validUntil = %v/%d, want %v/%d", h.hasValidUntil, h.validUntil, tt.hasValidUntil, tt.validUntil)
			}
			got, err := decodeVersion([]string{"c", "d"}, h, body)
			if err != nil {
				t.Fatal(err)
			}
			if got.CreateTime != tt.v.CreateTime || got.UpdateTime != tt.v.UpdateTime || got.Deleted != tt.v.Deleted {
				t.Errorf("times/kind = %+v, want %+v", got, tt.v)
			}
			if tt.v.Deleted != (got.Fields == nil) {
				t.Errorf("Fields nil = %v for Deleted = %v", got.Fields == nil, tt.v.Deleted)
			}
			if !proto.Equal(&pb.MapValue{Fields: got.Fields}, &pb.MapValue{Fields: tt.v.Fields}) {
				t.Errorf("fields = %v, want %v", got.Fields, tt.v.Fields)
			}
		})
	}
}

func TestDecodeHeaderRejectsCorruptValues(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown flag", []byte{0x04, 2, 2}},
		{"truncated update", []byte{0x00}},
		{"truncated create", []byte{0x00, 2}},
		{"missing validUntil", []byte{flagValidUntil, 2, 2}},
		{"unterminated varint", []byte{0x00, 0x80}},
		{"tombstone with fields", []byte{flagTombstone, 2, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeHeader(tt.in); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeHeader(%x) error = %v, want ErrCorrupt", tt.in, err)
			}
		})
	}
	t.Run("bad fields", func(t *testing.T) {
		h, body, err := decodeHeader([]byte{0x00, 2, 2, 0xff})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeVersion(nil, h, body); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeVersion error = %v, want ErrCorrupt", err)
		}
	})
}
