package service

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Why this codec exists: the API promises that a request whose string field is not valid UTF-8
// fails with INVALID_ARGUMENT naming the field, and the handlers' validation does exactly that.
// But protobuf refuses to unmarshal a proto3 string that is not UTF-8, and gRPC answers any
// unmarshal failure with INTERNAL before a handler runs, so without help such a request would
// be reported as a server fault and the field would never be named. This codec lets those
// requests through to the handlers: when, and only when, the standard decoder rejects a message
// for invalid UTF-8, it decodes the same bytes again with a decoder that keeps strings as raw
// bytes. Everything else, malformed wire data included, fails exactly as before, and replies are
// marshalled by the standard codec, which still refuses to send invalid UTF-8.

// Errors of the lenient decoder, wrapped with the field or position they concern.
var (
	errMalformed = errors.New("malformed protobuf wire data")
	errTooDeep   = errors.New("protobuf message nested too deeply")
	errGroup     = errors.New("group-encoded fields are not supported")
)

// Codec returns the gRPC codec for the server, to be installed with grpc.ForceServerCodecV2. It
// is named "proto" and is the standard protobuf codec except that requests holding strings that
// are not valid UTF-8 are decoded with those strings as sent, so that validation can name them.
func Codec() encoding.CodecV2 {
	return utf8TolerantCodec{std: encoding.GetCodecV2(protocodec.Name)}
}

// utf8TolerantCodec wraps the standard codec, which the grpc proto package registers on import.
type utf8TolerantCodec struct{ std encoding.CodecV2 }

var _ encoding.CodecV2 = utf8TolerantCodec{}

func (c utf8TolerantCodec) Name() string { return protocodec.Name }

func (c utf8TolerantCodec) Marshal(v any) (mem.BufferSlice, error) { return c.std.Marshal(v) }

func (c utf8TolerantCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.std.Unmarshal(data, v)
	if err == nil || !isInvalidUTF8(err) {
		return err
	}
	m := messageOf(v)
	if m == nil {
		return err
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	proto.Reset(m)
	if lerr := unmarshalLenient(buf.ReadOnlyData(), m); lerr != nil {
		return fmt.Errorf("%s with strings that are not UTF-8: %w", m.ProtoReflect().Descriptor().FullName(), lerr)
	}
	return nil
}

// messageOf accepts the same message kinds as the standard codec.
func messageOf(v any) proto.Message {
	switch v := v.(type) {
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(v)
	case protoadapt.MessageV2:
		return v
	}
	return nil
}

// isInvalidUTF8 recognises the standard decoder's UTF-8 rejection. Generated messages report it
// with an error that has an InvalidUTF8 method; messages decoded by reflection only say so in the
// text. A false positive costs nothing but a second decode, which is as strict about the wire
// format as the first.
func isInvalidUTF8(err error) bool {
	var u interface{ InvalidUTF8() bool }
	if errors.As(err, &u) && u.InvalidUTF8() {
		return true
	}
	return strings.Contains(err.Error(), "invalid UTF-8")
}

// unmarshalLenient merges b into m like decodeLenient and then, as the standard decoder does,
// checks that every required field is set.
func unmarshalLenient(b []byte, m proto.Message) error {
	if err := decodeLenient(b, m.ProtoReflect()); err != nil {
		return err
	}
	return proto.CheckInitialized(m)
}

// decodeLenient merges the wire-format message b into m, keeping strings as raw bytes. It
// accepts exactly what the standard decoder accepts, with the same result, except that strings
// need not be valid UTF-8; fields of unknown number (or of an unexpected wire type) are kept as
// unknown fields, as the standard decoder keeps them. Group encoding is refused.
func decodeLenient(b []byte, m protoreflect.Message) error {
	return decodeMessage(b, m, protowire.DefaultRecursionLimit)
}

// decodeMessage merges b into m; depth is how many more levels of nesting are allowed, counted as
// the standard decoder counts them (each message and each map entry is one level).
func decodeMessage(b []byte, m protoreflect.Message, depth int) error {
	if depth--; depth < 0 {
		return errTooDeep
	}
	md := m.Descriptor()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %s: field tag: %v", errMalformed, md.FullName(), protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("%w: %s: field number %d is above the maximum %d", errMalformed, md.FullName(), num, protowire.MaxValidNumber)
		}
		b = b[n:]
		fd := fieldByNumber(md, num)
		known := false
		if fd != nil {
			var err error
			if n, known, err = decodeField(b, m, fd, typ, depth); err != nil {
				return err
			}
		}
		if !known {
			// An end-group tag outside a group is refused here too: it has no value to consume.
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("%w: %s: field %d: %v", errMalformed, md.FullName(), num, protowire.ParseError(n))
			}
			unknown := protowire.AppendTag(m.GetUnknown(), num, typ)
			m.SetUnknown(append(unknown, b[:n]...))
		}
		b = b[n:]
	}
	return nil
}

// fieldByNumber finds a declared field, or a registered extension as the standard decoder would.
func fieldByNumber(md protoreflect.MessageDescriptor, num protowire.Number) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByNumber(num); fd != nil {
		return fd
	}
	if !md.ExtensionRanges().Has(num) {
		return nil
	}
	xt, err := protoregistry.GlobalTypes.FindExtensionByNumber(md.FullName(), num)
	if err != nil {
		return nil
	}
	return xt.TypeDescriptor()
}

// decodeField decodes the value at the start of b into field fd of m and returns its length. A
// wire type the field cannot have makes the value unknown (known is false), not an error.
func decodeField(b []byte, m protoreflect.Message, fd protoreflect.FieldDescriptor, typ protowire.Type, depth int) (n int, known bool, err error) {
	kind := fd.Kind()
	switch {
	case kind == protoreflect.GroupKind:
		if typ != protowire.StartGroupType {
			return 0, false, nil
		}
		return 0, true, fmt.Errorf("%w: field %s", errGroup, fd.FullName())

	case fd.IsMap():
		if typ != protowire.BytesType {
			return 0, false, nil
		}
		entry, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, true, malformed(fd, n)
		}
		return n, true, decodeMapEntry(entry, m.Mutable(fd).Map(), fd, depth)

	case kind == protoreflect.MessageKind:
		if typ != protowire.BytesType {
			return 0, false, nil
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, true, malformed(fd, n)
		}
		if fd.IsList() {
			list := m.Mutable(fd).List()
			elem := list.NewElement()
			list.Append(elem)
			return n, true, decodeMessage(v, elem.Message(), depth)
		}
		// A repeated occurrence of a singular message merges into the first.
		return n, true, decodeMessage(v, m.Mutable(fd).Message(), depth)

	case fd.IsList():
		want := wireTypeOf(kind)
		if typ == protowire.BytesType && want != protowire.BytesType {
			return decodePacked(b, m.Mutable(fd).List(), fd)
		}
		if typ != want {
			return 0, false, nil
		}
		v, n := decodeScalar(b, kind)
		if n < 0 {
			return 0, true, malformed(fd, n)
		}
		m.Mutable(fd).List().Append(v)
		return n, true, nil

	default:
		if typ != wireTypeOf(kind) {
			return 0, false, nil
		}
		v, n := decodeScalar(b, kind)
		if n < 0 {
			return 0, true, malformed(fd, n)
		}
		m.Set(fd, v)
		return n, true, nil
	}
}

// decodePacked appends the packed scalars at the start of b to list.
func decodePacked(b []byte, list protoreflect.List, fd protoreflect.FieldDescriptor) (n int, known bool, err error) {
	packed, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, true, malformed(fd, n)
	}
	for len(packed) > 0 {
		v, vn := decodeScalar(packed, fd.Kind())
		if vn < 0 {
			return 0, true, malformed(fd, vn)
		}
		list.Append(v)
		packed = packed[vn:]
	}
	return n, true, nil
}

// decodeMapEntry decodes one map entry (key = 1, value = 2) into mp. A missing key or value is
// the zero value; a repeated key or scalar value replaces the earlier one, a repeated message
// value merges into it; other fields are dropped, as the standard decoder drops them.
func decodeMapEntry(b []byte, mp protoreflect.Map, fd protoreflect.FieldDescriptor, depth int) error {
	if depth--; depth < 0 {
		return errTooDeep
	}
	keyField, valField := fd.MapKey(), fd.MapValue()
	key := keyField.Default()
	var val protoreflect.Value
	if valField.Kind() == protoreflect.MessageKind {
		val = mp.NewValue()
	} else {
		val = zeroValue(valField)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed(fd, n)
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("%w: field %s: map entry field number %d is above the maximum %d", errMalformed, fd.FullName(), num, protowire.MaxValidNumber)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == wireTypeOf(keyField.Kind()):
			if key, n = decodeScalar(b, keyField.Kind()); n < 0 {
				return malformed(keyField, n)
			}
		case num == 2 && valField.Kind() == protoreflect.MessageKind && typ == protowire.BytesType:
			v, vn := protowire.ConsumeBytes(b)
			if vn < 0 {
				return malformed(valField, vn)
			}
			if err := decodeMessage(v, val.Message(), depth); err != nil {
				return err
			}
			n = vn
		case num == 2 && valField.Kind() != protoreflect.MessageKind && typ == wireTypeOf(valField.Kind()):
			if val, n = decodeScalar(b, valField.Kind()); n < 0 {
				return malformed(valField, n)
			}
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("%w: field %s: map entry field %d: %v", errMalformed, fd.FullName(), num, protowire.ParseError(n))
			}
		}
		b = b[n:]
	}
	mp.Set(key.MapKey(), val)
	return nil
}

// zeroValue is a scalar field's zero value. Unlike Default it is 0 for an enum whose first value
// is not, as the standard decoder leaves a map value the wire did not carry.
func zeroValue(fd protoreflect.FieldDescriptor) protoreflect.Value {
	if fd.Kind() == protoreflect.EnumKind {
		return protoreflect.ValueOfEnum(0)
	}
	return fd.Default()
}

// noWireType is the wire type of kinds that have none here (groups are refused); it matches no
// wire type on the wire.
const noWireType protowire.Type = -1

// wireTypeOf is the wire type a field of the kind has, unpacked.
func wireTypeOf(kind protoreflect.Kind) protowire.Type {
	switch kind {
	case protoreflect.BoolKind, protoreflect.EnumKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	}
	return noWireType
}

// decodeScalar decodes a value of a scalar, string or bytes kind, whose wire type the caller has
// checked, and returns its length, or a negative protowire error code. Strings keep their bytes
// as sent; bytes are copied, so the message does not alias the request buffer.
func decodeScalar(b []byte, kind protoreflect.Kind) (protoreflect.Value, int) {
	switch wireTypeOf(kind) {
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return protoreflect.Value{}, n
		}
		return varintValue(kind, v), n
	case protowire.Fixed32Type:
		v, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return protoreflect.Value{}, n
		}
		switch kind {
		case protoreflect.Sfixed32Kind:
			return protoreflect.ValueOfInt32(int32(v)), n
		case protoreflect.FloatKind:
			return protoreflect.ValueOfFloat32(math.Float32frombits(v)), n
		}
		return protoreflect.ValueOfUint32(v), n
	case protowire.Fixed64Type:
		v, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return protoreflect.Value{}, n
		}
		switch kind {
		case protoreflect.Sfixed64Kind:
			return protoreflect.ValueOfInt64(int64(v)), n
		case protoreflect.DoubleKind:
			return protoreflect.ValueOfFloat64(math.Float64frombits(v)), n
		}
		return protoreflect.ValueOfUint64(v), n
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return protoreflect.Value{}, n
	}
	if kind == protoreflect.StringKind {
		return protoreflect.ValueOfString(string(v)), n
	}
	return protoreflect.ValueOfBytes(append([]byte{}, v...)), n
}

// varintValue converts a varint to the kind's value, truncating and zigzag-decoding as the
// standard decoder does.
func varintValue(kind protoreflect.Kind, v uint64) protoreflect.Value {
	switch kind {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(protowire.DecodeBool(v))
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(v)))
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(v))
	case protoreflect.Sint32Kind:
		return protoreflect.ValueOfInt32(int32(protowire.DecodeZigZag(v & math.MaxUint32)))
	case protoreflect.Uint32Kind:
		return protoreflect.ValueOfUint32(uint32(v))
	case protoreflect.Sint64Kind:
		return protoreflect.ValueOfInt64(protowire.DecodeZigZag(v))
	case protoreflect.Uint64Kind:
		return protoreflect.ValueOfUint64(v)
	}
	return protoreflect.ValueOfInt64(int64(v))
}

// malformed reports a value of fd that the wire data cut short or spelled wrongly.
func malformed(fd protoreflect.FieldDescriptor, code int) error {
	return fmt.Errorf("%w: field %s: %v", errMalformed, fd.FullName(), protowire.ParseError(code))
}
