package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"go.uber.org/mock/gomock"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Wire-format builders. protowire does not validate UTF-8, so these can spell requests that
// proto.Marshal refuses to produce.

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

func wireFixed32(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), v)
}

func wireFixed64(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
}

func wireTag(num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(nil, num, typ)
}

// Messages built from descriptors at test time, so that the decoder meets every field kind,
// packed and unpacked lists, maps, oneofs, proto3 optional, a proto2 required field and a group,
// which the API's own messages do not all have.

type testDescriptors struct {
	kitchen protoreflect.MessageDescriptor // proto3, every kind of field
	legacy  protoreflect.MessageDescriptor // proto2 with a required field, nested in kitchen
	grouped protoreflect.MessageDescriptor // proto2 with a group field
}

var loadTestDescriptors = sync.OnceValues(buildTestDescriptors)

func testTypes(t testing.TB) testDescriptors {
	t.Helper()
	d, err := loadTestDescriptors()
	if err != nil {
		t.Fatalf("building test descriptors: %v", err)
	}
	return d
}

// Kitchen field numbers used by hand-built wire data.
const (
	kInt32       = 1
	kSint32      = 5
	kSint64      = 6
	kFixed32     = 7
	kDouble      = 12
	kString      = 15
	kChild       = 17
	kRepInt32    = 21 // packed
	kRepInt64    = 22 // unpacked
	kRepString   = 35
	kChildren    = 37
	kCounts      = 40 // map<string, int32>
	kNodes       = 41 // map<int64, Kitchen>
	kLabels      = 45 // map<string, string>
	kChoiceName  = 50
	kChoiceSub   = 51
	kLegacy      = 60
	kUnknownSlot = 99 // declared by no test message
)

func buildTestDescriptors() (testDescriptors, error) {
	type fdp = descriptorpb.FieldDescriptorProto
	optional := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	repeated := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	field := func(name string, num int32, label *descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *fdp {
		f := &fdp{Name: proto.String(name), Number: proto.Int32(num), Label: label, Type: typ.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	entry := func(name string, key, val descriptorpb.FieldDescriptorProto_Type, valType string) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{
			Name:    proto.String(name),
			Field:   []*fdp{field("key", 1, optional, key, ""), field("value", 2, optional, val, valType)},
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		}
	}
	const (
		kitchenType = ".codectest.Kitchen"
		colorType   = ".codectest.Color"
		legacyType  = ".codectest.Legacy"
	)

	legacyFile := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("codectest/legacy.proto"),
		Package: proto.String("codectest"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Legacy"),
				Field: []*fdp{
					field("id", 1, descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum(), descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
					field("note", 2, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				},
			},
			{
				Name:       proto.String("Grouped"),
				Field:      []*fdp{field("item", 1, optional, descriptorpb.FieldDescriptorProto_TYPE_GROUP, ".codectest.Grouped.Item")},
				NestedType: []*descriptorpb.DescriptorProto{{Name: proto.String("Item"), Field: []*fdp{field("a", 1, optional, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")}}},
			},
		},
	}

	scalars := []descriptorpb.FieldDescriptorProto_Type{
		descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_INT64,
		descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_UINT64,
		descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_SINT64,
		descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_FIXED64,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64,
		descriptorpb.FieldDescriptorProto_TYPE_FLOAT, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE,
		descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_ENUM,
		descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_BYTES,
	}
	var fields []*fdp
	for i, typ := range scalars {
		name := protoreflect.Kind(typ).String()
		typeName := ""
		if typ == descriptorpb.FieldDescriptorProto_TYPE_ENUM {
			typeName = colorType
		}
		fields = append(fields, field(name, int32(i+1), optional, typ, typeName))
		rep := field("rep_"+name, int32(i+21), repeated, typ, typeName)
		if i%2 == 1 && typ != descriptorpb.FieldDescriptorProto_TYPE_STRING && typ != descriptorpb.FieldDescriptorProto_TYPE_BYTES {
			rep.Options = &descriptorpb.FieldOptions{Packed: proto.Bool(false)}
		}
		fields = append(fields, rep)
	}
	choice := func(f *fdp, oneof int32) *fdp { f.OneofIndex = proto.Int32(oneof); return f }
	opt := choice(field("opt", 53, optional, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""), 1)
	opt.Proto3Optional = proto.Bool(true)
	fields = append(fields,
		field("child", kChild, optional, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType),
		field("children", kChildren, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType),
		field("counts", kCounts, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".CountsEntry"),
		field("nodes", kNodes, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".NodesEntry"),
		field("flags", 42, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".FlagsEntry"),
		field("blobs", 43, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".BlobsEntry"),
		field("colors", 44, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".ColorsEntry"),
		field("labels", kLabels, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".LabelsEntry"),
		field("weights", 46, repeated, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType+".WeightsEntry"),
		choice(field("name", kChoiceName, optional, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""), 0),
		choice(field("sub", kChoiceSub, optional, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType), 0),
		choice(field("num", 52, optional, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""), 0),
		opt,
		field("legacy", kLegacy, optional, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, legacyType),
	)
	kitchenFile := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("codectest/kitchen.proto"),
		Package:    proto.String("codectest"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"codectest/legacy.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("COLOR_RED"), Number: proto.Int32(1)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("Kitchen"),
			Field: fields,
			NestedType: []*descriptorpb.DescriptorProto{
				entry("CountsEntry", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
				entry("NodesEntry", descriptorpb.FieldDescriptorProto_TYPE_INT64, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchenType),
				entry("FlagsEntry", descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				entry("BlobsEntry", descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
				entry("ColorsEntry", descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_ENUM, colorType),
				entry("LabelsEntry", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				entry("WeightsEntry", descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
			},
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_opt")}},
		}},
	}

	files := new(protoregistry.Files)
	lf, err := protodesc.NewFile(legacyFile, files)
	if err != nil {
		return testDescriptors{}, fmt.Errorf("legacy file: %w", err)
	}
	if err := files.RegisterFile(lf); err != nil {
		return testDescriptors{}, err
	}
	kf, err := protodesc.NewFile(kitchenFile, files)
	if err != nil {
		return testDescriptors{}, fmt.Errorf("kitchen file: %w", err)
	}
	return testDescriptors{
		kitchen: kf.Messages().ByName("Kitchen"),
		legacy:  lf.Messages().ByName("Legacy"),
		grouped: lf.Messages().ByName("Grouped"),
	}, nil
}

// samples are values of a kind, extremes included; the first is never the zero value.
func samples(kind protoreflect.Kind) []protoreflect.Value {
	switch kind {
	case protoreflect.BoolKind:
		return []protoreflect.Value{protoreflect.ValueOfBool(true), protoreflect.ValueOfBool(false)}
	case protoreflect.EnumKind:
		return []protoreflect.Value{protoreflect.ValueOfEnum(1), protoreflect.ValueOfEnum(0), protoreflect.ValueOfEnum(-99)}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return []protoreflect.Value{protoreflect.ValueOfInt32(-7), protoreflect.ValueOfInt32(math.MaxInt32), protoreflect.ValueOfInt32(math.MinInt32)}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return []protoreflect.Value{protoreflect.ValueOfInt64(-7), protoreflect.ValueOfInt64(math.MaxInt64), protoreflect.ValueOfInt64(math.MinInt64)}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return []protoreflect.Value{protoreflect.ValueOfUint32(7), protoreflect.ValueOfUint32(math.MaxUint32)}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return []protoreflect.Value{protoreflect.ValueOfUint64(7), protoreflect.ValueOfUint64(math.MaxUint64)}
	case protoreflect.FloatKind:
		return []protoreflect.Value{protoreflect.ValueOfFloat32(1.5), protoreflect.ValueOfFloat32(float32(math.Inf(-1))), protoreflect.ValueOfFloat32(float32(math.NaN()))}
	case protoreflect.DoubleKind:
		return []protoreflect.Value{protoreflect.ValueOfFloat64(-2.25), protoreflect.ValueOfFloat64(math.MaxFloat64), protoreflect.ValueOfFloat64(math.NaN())}
	case protoreflect.StringKind:
		return []protoreflect.Value{protoreflect.ValueOfString("héllo"), protoreflect.ValueOfString(""), protoreflect.ValueOfString("x")}
	case protoreflect.BytesKind:
		return []protoreflect.Value{protoreflect.ValueOfBytes([]byte{0, 0xff}), protoreflect.ValueOfBytes([]byte{})}
	}
	return nil
}

// fill sets every field of m, recursing depth levels into message fields. Of a oneof, the last
// member declared stays set.
func fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for _, k := range samples(fd.MapKey().Kind()) {
				if fd.MapValue().Message() == nil {
					mp.Set(k.MapKey(), samples(fd.MapValue().Kind())[0])
				} else if depth > 0 {
					v := mp.NewValue()
					fill(v.Message(), depth-1)
					mp.Set(k.MapKey(), v)
				}
			}
		case fd.IsList() && fd.Message() != nil:
			if depth > 0 {
				list := m.Mutable(fd).List()
				for range 2 {
					e := list.NewElement()
					fill(e.Message(), depth-1)
					list.Append(e)
				}
			}
		case fd.IsList():
			list := m.Mutable(fd).List()
			for _, v := range samples(fd.Kind()) {
				list.Append(v)
			}
		case fd.Message() != nil:
			if depth > 0 {
				fill(m.Mutable(fd).Message(), depth-1)
			}
		default:
			m.Set(fd, samples(fd.Kind())[0])
		}
	}
}

// kitchen returns a Kitchen message with the fields that set assigns by name.
func kitchen(t testing.TB, set func(m protoreflect.Message, f func(name string) protoreflect.FieldDescriptor)) *dynamicpb.Message {
	t.Helper()
	m := dynamicpb.NewMessage(testTypes(t).kitchen)
	set(m, func(name string) protoreflect.FieldDescriptor {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("Kitchen has no field %q", name)
		}
		return fd
	})
	return m
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("proto.Marshal(%T): %v", m, err)
	}
	return b
}

// lenientDecodeEquals decodes b into a new message of want's type and checks it equals want.
func lenientDecodeEquals(t *testing.T, b []byte, want proto.Message) {
	t.Helper()
	got := want.ProtoReflect().New().Interface()
	if err := unmarshalLenient(b, got); err != nil {
		t.Fatalf("lenient decode: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("lenient decode:\n got %v\nwant %v", prototext.Format(got), prototext.Format(want))
	}
}

// canonicalUnknown rewrites the unknown fields of m and its submessages with minimal tags. The
// standard decoder keeps tags as sent when it decodes by reflection but rewrites them for
// generated messages; the lenient decoder always rewrites them.
func canonicalUnknown(m protoreflect.Message) {
	if u := m.GetUnknown(); len(u) > 0 {
		var out []byte
		for len(u) > 0 {
			num, typ, n := protowire.ConsumeTag(u)
			if n < 0 {
				return
			}
			vn := protowire.ConsumeFieldValue(num, typ, u[n:])
			if vn < 0 {
				return
			}
			out = append(protowire.AppendTag(out, num, typ), u[n:n+vn]...)
			u = u[n+vn:]
		}
		m.SetUnknown(out)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					canonicalUnknown(mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					canonicalUnknown(v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			canonicalUnknown(v.Message())
		}
		return true
	})
}

func TestLenientDecodeRoundTrips(t *testing.T) {
	filled := dynamicpb.NewMessage(testTypes(t).kitchen)
	fill(filled, 2)
	st, err := structpb.NewStruct(map[string]any{"a": 1.5, "b": []any{"x", true, nil}, "c": map[string]any{"d": "é"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"IncrementRequest", &tallyv1.IncrementRequest{Name: "counters/apples", Delta: -5, IdempotencyKey: "key-1"}},
		{"IncrementRequest with the extreme delta", &tallyv1.IncrementRequest{Name: "counters/é", Delta: math.MinInt64}},
		{"empty IncrementRequest", &tallyv1.IncrementRequest{}},
		{"BatchIncrementRequest", &tallyv1.BatchIncrementRequest{
			Requests: []*tallyv1.IncrementRequest{
				{Name: "counters/a", Delta: 1},
				{Name: "counters/b", Delta: -2, IdempotencyKey: "inner"},
				{},
				{Name: "counters/a", Delta: math.MaxInt64},
			},
			IdempotencyKey: "batch",
		}},
		{"UpdateCounterRequest", &tallyv1.UpdateCounterRequest{
			Counter: &tallyv1.Counter{
				Name: "counters/c", Value: -9, ShardCount: 1000,
				CreateTime: timestamppb.New(createTime),
				UpdateTime: timestamppb.New(updateTime),
				ReadTime:   &timestamppb.Timestamp{Seconds: -62135596800, Nanos: 999_999_999},
			},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count", "value", ""}},
		}},
		{"ListCountersRequest", &tallyv1.ListCountersRequest{PageSize: -3, PageToken: "tok", Prefix: "pre", View: tallyv1.CounterView_COUNTER_VIEW_FULL}},
		{"ListCountersRequest with an unknown view", &tallyv1.ListCountersRequest{View: tallyv1.CounterView(77)}},
		{"BatchGetCountersRequest", &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "", "counters/a"}}},
		{"CreateCounterRequest", &tallyv1.CreateCounterRequest{CounterId: "c", Counter: &tallyv1.Counter{ShardCount: 3}}},
		{"Struct", st},
		{"Kitchen with every field", filled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lenientDecodeEquals(t, mustMarshal(t, tt.msg), tt.msg)
		})
	}
}

func TestLenientDecodeKeepsInvalidUTF8(t *testing.T) {
	const bad = "counters/\xff\xfe"
	tests := []struct {
		name string
		wire []byte
		want proto.Message
	}{
		{
			name: "IncrementRequest.name",
			wire: cat(wireString(1, bad), wireVarint(2, 1)),
			want: &tallyv1.IncrementRequest{Name: bad, Delta: 1},
		},
		{
			name: "IncrementRequest.idempotency_key",
			wire: cat(wireString(1, "counters/a"), wireString(3, "\xc3")),
			want: &tallyv1.IncrementRequest{Name: "counters/a", IdempotencyKey: "\xc3"},
		},
		{
			name: "BatchIncrementRequest.requests[1].name",
			wire: cat(
				wireMessage(1, wireString(1, "counters/a"), wireVarint(2, 2)),
				wireMessage(1, wireString(1, bad), wireVarint(2, math.MaxUint64)),
				wireString(2, "batch"),
			),
			want: &tallyv1.BatchIncrementRequest{
				Requests:       []*tallyv1.IncrementRequest{{Name: "counters/a", Delta: 2}, {Name: bad, Delta: -1}},
				IdempotencyKey: "batch",
			},
		},
		{
			name: "UpdateCounterRequest.counter.name and update_mask",
			wire: cat(
				wireMessage(1, wireString(1, bad), wireVarint(3, 4), wireMessage(4, wireVarint(1, 10), wireVarint(2, 20))),
				wireMessage(2, wireString(1, "shard_count"), wireString(1, "\x80")),
			),
			want: &tallyv1.UpdateCounterRequest{
				Counter:    &tallyv1.Counter{Name: bad, ShardCount: 4, CreateTime: &timestamppb.Timestamp{Seconds: 10, Nanos: 20}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count", "\x80"}},
			},
		},
		{
			name: "ListCountersRequest.prefix",
			wire: cat(wireVarint(1, 10), wireString(3, "\xed\xa0\x80"), wireVarint(4, 2)),
			want: &tallyv1.ListCountersRequest{PageSize: 10, Prefix: "\xed\xa0\x80", View: tallyv1.CounterView_COUNTER_VIEW_FULL},
		},
		{
			name: "BatchGetCountersRequest.names[1]",
			wire: cat(wireString(1, "counters/a"), wireString(1, bad)),
			want: &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", bad}},
		},
		{
			name: "Kitchen strings everywhere",
			wire: cat(
				wireString(kString, "\xff"),
				wireString(kRepString, "ok"), wireString(kRepString, "\xfe"),
				wireMessage(kLabels, wireString(1, "\xf0"), wireString(2, "\xf1")),
				wireMessage(kChild, wireString(kChoiceName, "\xc0\xaf")),
			),
			want: kitchen(t, func(m protoreflect.Message, f func(string) protoreflect.FieldDescriptor) {
				m.Set(f("string"), protoreflect.ValueOfString("\xff"))
				list := m.Mutable(f("rep_string")).List()
				list.Append(protoreflect.ValueOfString("ok"))
				list.Append(protoreflect.ValueOfString("\xfe"))
				m.Mutable(f("labels")).Map().Set(protoreflect.ValueOfString("\xf0").MapKey(), protoreflect.ValueOfString("\xf1"))
				m.Mutable(f("child")).Message().Set(f("name"), protoreflect.ValueOfString("\xc0\xaf"))
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strict := tt.want.ProtoReflect().New().Interface()
			err := proto.Unmarshal(tt.wire, strict)
			if err == nil || !isInvalidUTF8(err) {
				t.Fatalf("standard decoder: %v, want an invalid UTF-8 error", err)
			}
			lenientDecodeEquals(t, tt.wire, tt.want)
		})
	}
}

// TestLenientDecodeMatchesStandardDecoder covers wire forms that marshalling never produces but
// decoders must accept. The standard decoder is the reference; where the expected message is
// easy to state it is checked as well, so that both decoders agreeing on a wrong answer fails.
func TestLenientDecodeMatchesStandardDecoder(t *testing.T) {
	type fieldOf = func(string) protoreflect.FieldDescriptor
	overlongTag := []byte{byte(kInt32<<3) | 0x80, 0x00} // field 1, varint, in two bytes
	tests := []struct {
		name string
		wire []byte
		want func(m protoreflect.Message, f fieldOf) // nil: compare with the standard decoder only
	}{
		{
			name: "zigzag and truncated varints",
			wire: cat(
				wireVarint(kSint32, protowire.EncodeZigZag(-1)),
				wireVarint(kSint64, protowire.EncodeZigZag(math.MinInt64)),
				wireVarint(kInt32, 1<<40|5), // int32 keeps the low 32 bits
			),
			want: func(m protoreflect.Message, f fieldOf) {
				m.Set(f("sint32"), protoreflect.ValueOfInt32(-1))
				m.Set(f("sint64"), protoreflect.ValueOfInt64(math.MinInt64))
				m.Set(f("int32"), protoreflect.ValueOfInt32(5))
			},
		},
		{
			name: "negative int32 as ten bytes",
			wire: wireVarint(kInt32, uint64(math.MaxUint64-6)),
			want: func(m protoreflect.Message, f fieldOf) { m.Set(f("int32"), protoreflect.ValueOfInt32(-7)) },
		},
		{
			name: "sint32 ignores the high bits",
			wire: wireVarint(kSint32, 1<<32|protowire.EncodeZigZag(-3)), // bit 32 would flip the sign
			want: func(m protoreflect.Message, f fieldOf) { m.Set(f("sint32"), protoreflect.ValueOfInt32(-3)) },
		},
		{
			name: "the last scalar wins",
			wire: cat(wireFixed32(kFixed32, 1), wireFixed32(kFixed32, 2), wireFixed64(kDouble, math.Float64bits(0.5))),
			want: func(m protoreflect.Message, f fieldOf) {
				m.Set(f("fixed32"), protoreflect.ValueOfUint32(2))
				m.Set(f("double"), protoreflect.ValueOfFloat64(0.5))
			},
		},
		{
			name: "packed and unpacked elements of one list",
			wire: cat(
				wireVarint(kRepInt32, 1),
				wireBytes(kRepInt32, protowire.AppendVarint(protowire.AppendVarint(nil, 2), 3)),
				wireVarint(kRepInt32, 4),
				wireBytes(kRepInt64, protowire.AppendVarint(nil, 5)), // declared unpacked, sent packed
				wireBytes(kRepInt32, nil),
			),
			want: func(m protoreflect.Message, f fieldOf) {
				list := m.Mutable(f("rep_int32")).List()
				for _, v := range []int32{1, 2, 3, 4} {
					list.Append(protoreflect.ValueOfInt32(v))
				}
				m.Mutable(f("rep_int64")).List().Append(protoreflect.ValueOfInt64(5))
			},
		},
		{
			name: "a repeated singular message merges",
			wire: cat(
				wireMessage(kChild, wireVarint(kInt32, 1), wireString(kString, "a")),
				wireMessage(kChild, wireVarint(kInt32, 2), wireVarint(kRepInt64, 3)),
			),
			want: func(m protoreflect.Message, f fieldOf) {
				c := m.Mutable(f("child")).Message()
				c.Set(f("int32"), protoreflect.ValueOfInt32(2))
				c.Set(f("string"), protoreflect.ValueOfString("a"))
				c.Mutable(f("rep_int64")).List().Append(protoreflect.ValueOfInt64(3))
			},
		},
		{
			name: "repeated messages append",
			wire: cat(wireMessage(kChildren), wireMessage(kChildren, wireVarint(kInt32, 9))),
			want: func(m protoreflect.Message, f fieldOf) {
				list := m.Mutable(f("children")).List()
				list.Append(list.NewElement())
				e := list.NewElement()
				e.Message().Set(f("int32"), protoreflect.ValueOfInt32(9))
				list.Append(e)
			},
		},
		{
			name: "the last oneof member wins",
			wire: cat(wireMessage(kChoiceSub, wireVarint(kInt32, 1)), wireString(kChoiceName, "n")),
			want: func(m protoreflect.Message, f fieldOf) { m.Set(f("name"), protoreflect.ValueOfString("n")) },
		},
		{
			name: "a oneof message merges",
			wire: cat(wireMessage(kChoiceSub, wireVarint(kInt32, 1)), wireMessage(kChoiceSub, wireString(kString, "s"))),
			want: func(m protoreflect.Message, f fieldOf) {
				sub := m.Mutable(f("sub")).Message()
				sub.Set(f("int32"), protoreflect.ValueOfInt32(1))
				sub.Set(f("string"), protoreflect.ValueOfString("s"))
			},
		},
		{
			name: "map entries without key or value, repeated keys, extra fields",
			wire: cat(
				wireMessage(kCounts, wireVarint(2, 5)),                                       // key ""
				wireMessage(kCounts, wireString(1, "a")),                                     // value 0
				wireMessage(kCounts, wireString(1, "b"), wireVarint(2, 1)),                   //
				wireMessage(kCounts, wireString(1, "b"), wireVarint(2, 2), wireVarint(3, 7)), // replaces b; field 3 dropped
				wireMessage(kCounts, wireVarint(1, 1), wireVarint(2, 8), wireString(1, "c")), // key with the wrong wire type: dropped
			),
			want: func(m protoreflect.Message, f fieldOf) {
				mp := m.Mutable(f("counts")).Map()
				for k, v := range map[string]int32{"": 5, "a": 0, "b": 2, "c": 8} {
					mp.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfInt32(v))
				}
			},
		},
		{
			name: "map message values merge within an entry",
			wire: cat(
				wireMessage(kNodes, wireVarint(1, 4), wireMessage(2, wireVarint(kInt32, 1)), wireMessage(2, wireString(kString, "x"))),
				wireMessage(kNodes, wireVarint(1, 5)),
			),
			want: func(m protoreflect.Message, f fieldOf) {
				mp := m.Mutable(f("nodes")).Map()
				v := mp.NewValue()
				v.Message().Set(f("int32"), protoreflect.ValueOfInt32(1))
				v.Message().Set(f("string"), protoreflect.ValueOfString("x"))
				mp.Set(protoreflect.ValueOfInt64(4).MapKey(), v)
				mp.Set(protoreflect.ValueOfInt64(5).MapKey(), mp.NewValue())
			},
		},
		{
			name: "unknown fields of every wire type are kept",
			wire: cat(
				wireVarint(kUnknownSlot, 1),
				wireFixed32(kUnknownSlot+1, 2),
				wireFixed64(kUnknownSlot+2, 3),
				wireString(kUnknownSlot+3, "\xff"),
				wireTag(kUnknownSlot+4, protowire.StartGroupType), wireVarint(1, 1), wireTag(kUnknownSlot+4, protowire.EndGroupType),
				wireMessage(kChild, wireVarint(kUnknownSlot, 5)),
			),
		},
		{
			name: "a known field with the wrong wire type is unknown",
			wire: cat(wireFixed32(kString, 1), wireVarint(kChild, 2), wireFixed64(kCounts, 3), wireFixed32(kRepInt32, 4)),
		},
		{
			name: "an overlong tag",
			wire: append(overlongTag, 3),
			want: func(m protoreflect.Message, f fieldOf) { m.Set(f("int32"), protoreflect.ValueOfInt32(3)) },
		},
		{
			name: "a nested proto2 message with its required field",
			wire: wireMessage(kLegacy, wireVarint(1, 6), wireString(2, "\xff")),
			want: func(m protoreflect.Message, f fieldOf) {
				l := m.Mutable(f("legacy")).Message()
				l.Set(l.Descriptor().Fields().ByName("id"), protoreflect.ValueOfInt32(6))
				l.Set(l.Descriptor().Fields().ByName("note"), protoreflect.ValueOfString("\xff"))
			},
		},
	}
	md := testTypes(t).kitchen
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strict := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(tt.wire, strict); err != nil {
				t.Fatalf("standard decoder: %v", err)
			}
			got := dynamicpb.NewMessage(md)
			if err := unmarshalLenient(tt.wire, got); err != nil {
				t.Fatalf("lenient decode: %v", err)
			}
			canonicalUnknown(strict)
			if !proto.Equal(got, strict) {
				t.Errorf("lenient decode:\n got %v\nstandard decoder %v", prototext.Format(got), prototext.Format(strict))
			}
			if tt.want != nil {
				want := kitchen(t, tt.want)
				if !proto.Equal(got, want) {
					t.Errorf("lenient decode:\n got %v\nwant %v", prototext.Format(got), prototext.Format(want))
				}
			} else if len(got.GetUnknown()) == 0 {
				t.Errorf("no unknown fields kept: %v", prototext.Format(got))
			}
		})
	}
}

// nested is n Kitchen messages, each the child of the one before, the innermost holding inner.
func nested(n int, inner []byte) []byte {
	// Lengths from the innermost message out, then headers written from the outside in.
	lengths := make([]int, n+1)
	lengths[0] = len(inner)
	for i := 1; i <= n; i++ {
		lengths[i] = protowire.SizeTag(kChild) + protowire.SizeBytes(lengths[i-1])
	}
	var b []byte
	for i := n; i >= 1; i-- {
		b = protowire.AppendVarint(protowire.AppendTag(b, kChild, protowire.BytesType), uint64(lengths[i-1]))
	}
	return append(b, inner...)
}

func TestLenientDecodeRejectsMalformedInput(t *testing.T) {
	d := testTypes(t)
	tests := []struct {
		name string
		md   protoreflect.MessageDescriptor
		wire []byte
		want error
	}{
		{"truncated tag", d.kitchen, []byte{0x80}, errMalformed},
		{"field number 0", d.kitchen, protowire.AppendVarint(nil, 0<<3|uint64(protowire.VarintType)), errMalformed},
		{"field number above the maximum", d.kitchen, protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), errMalformed},
		{"truncated varint", d.kitchen, []byte{kInt32 << 3, 0x80}, errMalformed},
		{"varint of eleven bytes", d.kitchen, append([]byte{kInt32 << 3}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), errMalformed},
		{"truncated fixed32", d.kitchen, wireFixed32(kFixed32, 1)[:3], errMalformed},
		{"truncated fixed64", d.kitchen, wireFixed64(kDouble, 1)[:5], errMalformed},
		{"string longer than the data", d.kitchen, append(wireTag(kString, protowire.BytesType), 5, 'a'), errMalformed},
		{"huge length", d.kitchen, append(wireTag(kString, protowire.BytesType), 0xff, 0xff, 0xff, 0xff, 0x0f), errMalformed},
		{"truncated packed element", d.kitchen, wireBytes(kRepInt32, []byte{0x80}), errMalformed},
		{"malformed nested message", d.kitchen, wireMessage(kChildren, []byte{kInt32 << 3}), errMalformed},
		{"malformed map entry", d.kitchen, wireMessage(kCounts, []byte{1<<3 | 2, 9}), errMalformed},
		{"malformed map value message", d.kitchen, wireMessage(kNodes, wireBytes(2, []byte{0x80})), errMalformed},
		{"end group outside a group", d.kitchen, wireTag(kUnknownSlot, protowire.EndGroupType), errMalformed},
		{"end group for a known field", d.kitchen, wireTag(kInt32, protowire.EndGroupType), errMalformed},
		{"unterminated unknown group", d.kitchen, cat(wireTag(kUnknownSlot, protowire.StartGroupType), wireVarint(1, 1)), errMalformed},
		{"mismatched group end", d.kitchen, cat(wireTag(kUnknownSlot, protowire.StartGroupType), wireTag(kUnknownSlot+1, protowire.EndGroupType)), errMalformed},
		// With the top-level message, n nested children are n+1 levels.
		{"nested too deeply", d.kitchen, nested(protowire.DefaultRecursionLimit, nil), errTooDeep},
		{"map entries count as nesting", d.kitchen, nested(protowire.DefaultRecursionLimit-2, wireMessage(kNodes, wireMessage(2))), errTooDeep},
		{"a group field", d.grouped, cat(wireTag(1, protowire.StartGroupType), wireVarint(1, 1), wireTag(1, protowire.EndGroupType)), errGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeLenient(tt.wire, dynamicpb.NewMessage(tt.md))
			if !errors.Is(err, tt.want) {
				t.Errorf("lenient decode: %v, want %v", err, tt.want)
			}
			if tt.want != errGroup {
				if err := proto.Unmarshal(tt.wire, dynamicpb.NewMessage(tt.md)); err == nil {
					t.Errorf("the standard decoder accepts this input; the test case is wrong")
				}
			}
		})
	}
	// The limits above are exact: one level less decodes.
	for _, wire := range [][]byte{
		nested(protowire.DefaultRecursionLimit-1, nil),
		nested(protowire.DefaultRecursionLimit-2, wireMessage(kNodes)),
	} {
		if err := decodeLenient(wire, dynamicpb.NewMessage(d.kitchen)); err != nil {
			t.Errorf("lenient decode at the nesting limit: %v", err)
		}
	}
}

func TestCodec(t *testing.T) {
	c := Codec()
	if c.Name() != "proto" {
		t.Errorf("Name() = %q, want proto", c.Name())
	}
	missingRequired := cat(wireString(kString, "\xff"), wireMessage(kLegacy, wireString(2, "n")))
	tests := []struct {
		name    string
		wire    []byte
		into    any
		want    proto.Message // nil: an error is expected
		wantErr error         // when not nil, the error must wrap it
	}{
		{"valid request", mustMarshal(t, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 3}), &tallyv1.IncrementRequest{}, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 3}, nil},
		{"invalid UTF-8 in a generated message", cat(wireString(1, "counters/\xff"), wireVarint(2, 3)), &tallyv1.IncrementRequest{}, &tallyv1.IncrementRequest{Name: "counters/\xff", Delta: 3}, nil},
		{"invalid UTF-8 in a message decoded by reflection", wireString(kString, "\xff"), dynamicpb.NewMessage(testTypes(t).kitchen),
			kitchen(t, func(m protoreflect.Message, f func(string) protoreflect.FieldDescriptor) {
				m.Set(f("string"), protoreflect.ValueOfString("\xff"))
			}), nil},
		{"invalid UTF-8 and then malformed data", cat(wireString(1, "\xff"), []byte{2 << 3}), &tallyv1.IncrementRequest{}, nil, errMalformed},
		{"invalid UTF-8 and a required field missing", missingRequired, dynamicpb.NewMessage(testTypes(t).kitchen), nil, nil},
		{"malformed data alone", []byte{2 << 3}, &tallyv1.IncrementRequest{}, nil, nil},
		{"not a message", wireString(1, "a"), new(string), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tt.wire)}, tt.into)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Unmarshal succeeded, want an error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("Unmarshal: %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil && errors.Is(err, errMalformed) {
					t.Errorf("Unmarshal: %v, want the standard codec's error, not the lenient decoder's", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got := tt.into.(proto.Message); !proto.Equal(got, tt.want) {
				t.Errorf("Unmarshal:\n got %v\nwant %v", prototext.Format(got), prototext.Format(tt.want))
			}
		})
	}
	t.Run("Unmarshal resets the message", func(t *testing.T) {
		m := &tallyv1.IncrementRequest{IdempotencyKey: "stale", Delta: 9}
		if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wireString(1, "\xff"))}, m); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if want := (&tallyv1.IncrementRequest{Name: "\xff"}); !proto.Equal(m, want) {
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
		if _, err := c.Marshal(&tallyv1.Counter{Name: "\xff"}); err == nil {
			t.Errorf("Marshal of invalid UTF-8 succeeded; replies must stay valid")
		}
	})
}

// rawCodec is a client codec that sends and receives *[]byte as is, so a test can send requests
// that protobuf would refuse to marshal.
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

func TestCodecServesInvalidUTF8AsInvalidArgument(t *testing.T) {
	const bad = "counters/\xff\xfe"
	tests := []struct {
		method string
		req    []byte
		field  string
	}{
		{"Increment", cat(wireString(1, bad), wireVarint(2, 1)), "name"},
		{"Increment", cat(wireString(1, "counters/a"), wireVarint(2, 1), wireString(3, "\xff")), "idempotency_key"},
		{"BatchIncrement", cat(
			wireMessage(1, wireString(1, "counters/a"), wireVarint(2, 1)),
			wireMessage(1, wireString(1, bad), wireVarint(2, 1)),
		), "requests[1].name"},
		{"GetCounter", wireString(1, bad), "name"},
		{"BatchGetCounters", cat(wireString(1, "counters/a"), wireString(1, bad)), "names[1]"},
		{"CreateCounter", wireString(1, "\xff\xfe"), "counter_id"},
		{"UpdateCounter", wireMessage(1, wireString(1, bad), wireVarint(3, 2)), "counter.name"},
		{"ResetCounter", wireString(1, bad), "name"},
		{"DeleteCounter", wireString(1, bad), "name"},
		{"ListCounters", wireString(3, "\xff"), "prefix"},
	}
	// Counters has no expectations: a request that reached it would fail the test.
	conn := serveRaw(t, NewMockCounters(gomock.NewController(t)), grpc.ForceServerCodecV2(Codec()))
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.field, func(t *testing.T) {
			_, err := invokeRaw(testContext(t), conn, tt.method, tt.req)
			wantFieldViolation(t, err, tt.field)
		})
	}
}

func TestCodecServesValidRequests(t *testing.T) {
	counters := NewMockCounters(gomock.NewController(t))
	counters.EXPECT().Increment(gomock.Any(), "é", int64(-4), "k").Return(shard.WriteResult{CommitTime: commitTime}, nil)
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

	// Malformed requests still fail as gRPC fails any undecodable message, before a handler runs.
	_, err = invokeRaw(ctx, conn, "Increment", cat(wireString(1, "counters/\xff"), []byte{2 << 3}))
	if code := status.Code(err); code != codes.Internal {
		t.Errorf("malformed request: %v, want Internal", err)
	}
}

// TestDefaultCodecAnswersInvalidUTF8WithInternal shows what the codec is for: without it the
// request never reaches validation. Should gRPC or protobuf change this, the codec may be
// unnecessary.
func TestDefaultCodecAnswersInvalidUTF8WithInternal(t *testing.T) {
	conn := serveRaw(t, NewMockCounters(gomock.NewController(t)))
	_, err := invokeRaw(testContext(t), conn, "Increment", cat(wireString(1, "counters/\xff\xfe"), wireVarint(2, 1)))
	if code := status.Code(err); code != codes.Internal {
		t.Errorf("default codec: %v, want Internal", err)
	}
}

// unmarshalStandard is proto.Unmarshal, reporting a panic instead of propagating it. Decoding by
// reflection (dynamicpb) panics on some map entries that repeat a key with the wrong wire type
// after a valid one (protobuf v1.36.12); generated messages do not take that path.
func unmarshalStandard(b []byte, m proto.Message) (panicked any, err error) {
	defer func() { panicked = recover() }()
	return nil, proto.Unmarshal(b, m)
}

// fuzzTypes are the messages FuzzLenientDecode decodes into, chosen by its first argument.
func fuzzTypes(t testing.TB) []func() proto.Message {
	kitchenDesc := testTypes(t).kitchen
	return []func() proto.Message{
		func() proto.Message { return dynamicpb.NewMessage(kitchenDesc) },
		func() proto.Message { return &tallyv1.IncrementRequest{} },
		func() proto.Message { return &tallyv1.BatchIncrementRequest{} },
		func() proto.Message { return &tallyv1.UpdateCounterRequest{} },
		func() proto.Message { return &tallyv1.ListCountersRequest{} },
		func() proto.Message { return &tallyv1.CreateCounterRequest{} },
		func() proto.Message { return &structpb.Struct{} },
	}
}

func FuzzLenientDecode(f *testing.F) {
	filled := dynamicpb.NewMessage(testTypes(f).kitchen)
	fill(filled, 1)
	st, err := structpb.NewStruct(map[string]any{"a": 1.5, "b": []any{"x", true, nil}, "c": map[string]any{"d": "é"}})
	if err != nil {
		f.Fatal(err)
	}
	// Seeds are indexes into fuzzTypes and messages of that type.
	seeds := []struct {
		which uint8
		data  []byte
	}{
		{0, mustMarshal(f, filled)},
		{0, cat(wireString(kString, "\xff"), wireMessage(kNodes, wireVarint(1, 1), wireMessage(2, wireFixed32(kFixed32, 2))))},
		{0, cat(wireTag(kUnknownSlot, protowire.StartGroupType), wireVarint(1, 1), wireTag(kUnknownSlot, protowire.EndGroupType))},
		{1, mustMarshal(f, &tallyv1.IncrementRequest{Name: "counters/a", Delta: -1, IdempotencyKey: "k"})},
		{1, cat(wireString(1, "counters/\xff"), wireVarint(2, 1))},
		{2, mustMarshal(f, &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{{Name: "counters/a", Delta: 1}, {Name: "counters/b"}}, IdempotencyKey: "k"})},
		{3, mustMarshal(f, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 3, CreateTime: timestamppb.New(createTime)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}}})},
		{4, mustMarshal(f, &tallyv1.ListCountersRequest{PageSize: 5, PageToken: "t", Prefix: "p", View: tallyv1.CounterView_COUNTER_VIEW_FULL})},
		{5, mustMarshal(f, &tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{ShardCount: 2}})},
		{6, mustMarshal(f, st)},
	}
	for _, seed := range seeds {
		f.Add(seed.which, seed.data)
	}
	types := fuzzTypes(f)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		newMessage := types[int(which)%len(types)]
		lenient := newMessage()
		lenientErr := unmarshalLenient(data, lenient) // must not panic, whatever the input
		strict := newMessage()
		panicked, strictErr := unmarshalStandard(data, strict)
		switch {
		case panicked != nil:
			// The reference, not the code under test, failed; there is nothing to compare with.
			t.Skipf("the standard decoder panics on %x as %T: %v", data, strict, panicked)
		case strictErr == nil:
			if lenientErr != nil {
				t.Fatalf("the standard decoder accepts %x as %T, the lenient one fails: %v", data, strict, lenientErr)
			}
			canonicalUnknown(strict.ProtoReflect())
			if !proto.Equal(lenient, strict) {
				t.Fatalf("%x decodes differently as %T:\nlenient  %v\nstandard %v", data, strict, prototext.Format(lenient), prototext.Format(strict))
			}
		case !isInvalidUTF8(strictErr):
			if lenientErr == nil {
				t.Fatalf("the standard decoder rejects %x as %T (%v), the lenient one accepts it", data, strict, strictErr)
			}
		}
	})
}
