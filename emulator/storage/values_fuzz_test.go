package storage

import (
	"errors"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// FuzzVersionEncoding checks the stored version format both ways. Arbitrary bytes either fail to
// decode with ErrCorrupt or decode to a version that encodes and decodes again to the same
// version. A version built from the input (its fields from protobuf bytes) encodes, unless its
// fields cannot be marshalled (ErrInvalid), and decodes to itself.
func FuzzVersionEncoding(f *testing.F) {
	fields, err := marshalFields.Marshal(&pb.MapValue{Fields: map[string]*pb.Value{
		"n": {ValueType: &pb.Value_IntegerValue{IntegerValue: -7}},
		"s": {ValueType: &pb.Value_StringValue{StringValue: "x\x00y"}},
		"m": {ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: fieldsN(2)}}},
	}})
	if err != nil {
		f.Fatal(err)
	}
	live, _ := encodeVersion(&Version{CreateTime: 5, UpdateTime: 9, Fields: fieldsN(3)}, false, 0)
	history, _ := encodeVersion(&Version{CreateTime: 5, UpdateTime: 9, Fields: fieldsN(1)}, true, 12)
	tombstone, _ := encodeVersion(&Version{UpdateTime: 30, Deleted: true}, true, 1<<50)
	f.Add(live, fields, int64(1), int64(2), byte(0), int64(0))
	f.Add(history, fields, int64(5), int64(9), byte(flagValidUntil), int64(12))
	f.Add(tombstone, []byte{}, int64(0), int64(30), byte(flagTombstone|flagValidUntil), int64(-1))
	f.Add([]byte{flagTombstone, 2, 2, 1}, []byte{0xff}, int64(-1<<63), int64(1<<62), byte(0xff), int64(1<<63-1))
	f.Add([]byte{0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 2}, []byte{0x0a, 0x00}, int64(0), int64(0), byte(0), int64(0))
	f.Fuzz(func(t *testing.T, stored, fieldBytes []byte, create, update int64, flags byte, validUntil int64) {
		path := []string{"c", "d"}
		if h, body, err := decodeHeader(stored); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeHeader(%x) = %v, want ErrCorrupt", stored, err)
			}
		} else if v, err := decodeVersion(path, h, body); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeVersion(%x) = %v, want ErrCorrupt", stored, err)
			}
		} else {
			checkVersionRoundTrip(t, v, h.hasValidUntil, h.validUntil)
		}

		var mv pb.MapValue
		if proto.Unmarshal(fieldBytes, &mv) != nil {
			return
		}
		v := &Version{Path: path, CreateTime: create, UpdateTime: update, Deleted: flags&flagTombstone != 0}
		if !v.Deleted {
			v.Fields = mv.Fields
			if v.Fields == nil {
				v.Fields = map[string]*pb.Value{}
			}
		}
		checkVersionRoundTrip(t, v, flags&flagValidUntil != 0, validUntil)
	})
}

// checkVersionRoundTrip encodes v and checks that it decodes to v.
func checkVersionRoundTrip(t *testing.T, v *Version, hasValidUntil bool, validUntil int64) {
	t.Helper()
	enc, err := encodeVersion(v, hasValidUntil, validUntil)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("encodeVersion(%+v) = %v, want ErrInvalid", v, err)
		}
		return
	}
	h, body, err := decodeHeader(enc)
	if err != nil {
		t.Fatalf("%+v encodes as %x, whose header does not decode: %v", v, enc, err)
	}
	if !hasValidUntil {
		validUntil = 0
	}
	if want := (header{deleted: v.Deleted, updateTime: v.UpdateTime, createTime: v.CreateTime, hasValidUntil: hasValidUntil, validUntil: validUntil}); h != want {
		t.Fatalf("%+v encodes as %x, whose header decodes as %+v, want %+v", v, enc, h, want)
	}
	got, err := decodeVersion(v.Path, h, body)
	if err != nil {
		t.Fatalf("%+v encodes as %x, which does not decode: %v", v, enc, err)
	}
	if got.Deleted != v.Deleted || got.CreateTime != v.CreateTime || got.UpdateTime != v.UpdateTime || (got.Fields == nil) != v.Deleted {
		t.Fatalf("%+v decodes as %+v", v, got)
	}
	if !proto.Equal(&pb.MapValue{Fields: got.Fields}, &pb.MapValue{Fields: v.Fields}) {
		t.Fatalf("fields %v decode as %v", v.Fields, got.Fields)
	}
}
