package tallyv1_test

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// proto3Descriptor is the FileDescriptorProto of tally/v1/counter.proto as it was while the file
// was proto3 (syntax = "proto3"), before it became edition 2023 so that strings are not checked
// for UTF-8: the raw descriptor embedded in counter.pb.go at commit 5b88a03. Deployed clients
// and servers were built from it, so the edition 2023 file must keep its wire format, names and
// field shapes. Never regenerate it.
//
// The API may grow as protobuf allows without breaking either side: messages appended after the
// proto3 ones, fields with new numbers, new imports and new methods. Everything the proto3 API
// has must stay as it was.
//
//go:embed testdata/counter_proto3.binpb
var proto3Descriptor []byte

// proto3File is the API as proto3Descriptor describes it, for decoding with dynamicpb.
func proto3File(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(proto3Descriptor, fdp); err != nil {
		t.Fatalf("decoding testdata/counter_proto3.binpb: %v", err)
	}
	if fdp.GetSyntax() != "proto3" || fdp.GetName() != "tally/v1/counter.proto" {
		t.Fatalf("testdata/counter_proto3.binpb is %s in syntax %q, want tally/v1/counter.proto in proto3", fdp.GetName(), fdp.GetSyntax())
	}
	// The imports (timestamp, empty, field_mask) resolve to the well-known types linked in.
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("building the proto3 descriptor: %v", err)
	}
	return fd
}

// populate sets every field of m to a value that is not the default, lists to two elements,
// recursing depth levels into messages. Strings are valid UTF-8, which both versions accept.
func populate(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			panic(fmt.Sprintf("populate: map field %s is not handled", fd.FullName()))
		case fd.Message() != nil && depth == 0:
		case fd.IsList() && fd.Message() != nil:
			list := m.Mutable(fd).List()
			for range 2 {
				e := list.NewElement()
				populate(e.Message(), depth-1)
				list.Append(e)
			}
		case fd.IsList():
			list := m.Mutable(fd).List()
			list.Append(sample(fd, 1))
			list.Append(sample(fd, 2))
		case fd.Message() != nil:
			populate(m.Mutable(fd).Message(), depth-1)
		default:
			m.Set(fd, sample(fd, 1))
		}
	}
}

// sample is the i-th (i > 0) non-default value of a scalar field.
func sample(fd protoreflect.FieldDescriptor, i int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-é-%d", fd.Name(), i))
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(-1 << (60 - i)) // negative: ten bytes on the wire
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(300 * i))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		return protoreflect.ValueOfEnum(values.Get(i % values.Len()).Number())
	}
	panic(fmt.Sprintf("sample: kind %v of %s is not handled", fd.Kind(), fd.FullName()))
}

// clearAddedFields clears, in m and the messages in it, every field that old (the same message
// in the proto3 API) does not have.
func clearAddedFields(m protoreflect.Message, old protoreflect.MessageDescriptor) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		of := old.Fields().ByNumber(fd.Number())
		switch {
		case of == nil:
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				clearAddedFields(v.List().Get(i).Message(), of.Message())
			}
		case fd.Message() != nil:
			clearAddedFields(v.Message(), of.Message())
		}
		return true
	})
}

// checkNoUnknown fails if m or a message in it kept unknown fields: a field the other version
// does not know, or knows with another wire type.
func checkNoUnknown(t *testing.T, m protoreflect.Message) {
	t.Helper()
	if u := m.GetUnknown(); len(u) > 0 {
		t.Errorf("%s kept unknown fields %x", m.Descriptor().FullName(), u)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				checkNoUnknown(t, v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsList():
			checkNoUnknown(t, v.Message())
		}
		return true
	})
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// TestWireFormatMatchesProto3 encodes every message, fully populated, with one version of the API
// and decodes it with the other: each must read every field, and encode it back to the same bytes.
func TestWireFormatMatchesProto3(t *testing.T) {
	old := proto3File(t)
	for i := range old.Messages().Len() {
		oldMD := old.Messages().Get(i)
		name := oldMD.Name()
		mt, err := protoregistry.GlobalTypes.FindMessageByName(tallyv1.File_tally_v1_counter_proto.Package().Append(name))
		if err != nil {
			t.Errorf("message %s of the proto3 API: %v", name, err)
			continue
		}
		// Fields added since are left unset: a proto3 peer skips them, which is how the API grows.
		directions := []struct {
			name     string
			from, to func() protoreflect.Message
		}{
			{"edition 2023 to proto3", mt.New, func() protoreflect.Message { return dynamicpb.NewMessage(oldMD) }},
			{"proto3 to edition 2023", func() protoreflect.Message { return dynamicpb.NewMessage(oldMD) }, mt.New},
		}
		for _, d := range directions {
			t.Run(string(name)+"/"+d.name, func(t *testing.T) {
				sent := d.from()
				populate(sent, 3)
				clearAddedFields(sent, oldMD)
				wire, err := deterministic.Marshal(sent.Interface())
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				got := d.to()
				if err := proto.Unmarshal(wire, got.Interface()); err != nil {
					t.Fatalf("unmarshal: %v", err)
				}
				checkNoUnknown(t, got)
				back, err := deterministic.Marshal(got.Interface())
				if err != nil {
					t.Fatalf("marshal back: %v", err)
				}
				if !bytes.Equal(back, wire) {
					t.Errorf("encoded back differently:\n sent %x\n back %x", wire, back)
				}
				again := d.from()
				if err := proto.Unmarshal(back, again.Interface()); err != nil {
					t.Fatalf("unmarshal back: %v", err)
				}
				if !proto.Equal(again.Interface(), sent.Interface()) {
					t.Errorf("round trip changed the message:\n sent %v\n back %v", sent, again)
				}
			})
		}
	}
}

// TestDescriptorMatchesProto3 compares the two versions' descriptors: messages, fields (number,
// name, JSON name, type, cardinality, presence, packing, oneof), enums and methods. Only the
// syntax/edition and the features may differ, and they are not compared.
func TestDescriptorMatchesProto3(t *testing.T) {
	old, cur := proto3File(t), tallyv1.File_tally_v1_counter_proto
	if cur.Package() != old.Package() || cur.Path() != old.Path() {
		t.Errorf("file %s in package %s, the proto3 API is %s in %s", cur.Path(), cur.Package(), old.Path(), old.Package())
	}
	curImports := imports(cur)
	for _, imp := range imports(old) {
		if !slices.Contains(curImports, imp) {
			t.Errorf("imports %s, the proto3 API also imports %s", curImports, imp)
		}
	}
	oldOpts := old.Options().(*descriptorpb.FileOptions)
	curOpts := cur.Options().(*descriptorpb.FileOptions)
	if curOpts.GetGoPackage() != oldOpts.GetGoPackage() {
		t.Errorf("go_package %q, the proto3 API has %q", curOpts.GetGoPackage(), oldOpts.GetGoPackage())
	}

	for i := range old.Messages().Len() {
		om := old.Messages().Get(i)
		t.Run(string(om.Name()), func(t *testing.T) {
			cm := cur.Messages().ByName(om.Name())
			if cm == nil {
				t.Fatalf("message missing")
			}
			if cm.Index() != om.Index() || cm.Messages().Len() != om.Messages().Len() || cm.Enums().Len() != om.Enums().Len() || cm.Oneofs().Len() != om.Oneofs().Len() {
				t.Errorf("index, nested messages, enums or oneofs differ from the proto3 API")
			}
			for j := range om.Fields().Len() {
				of := om.Fields().Get(j)
				cf := cm.Fields().ByNumber(of.Number())
				if cf == nil {
					t.Errorf("field %d (%s) missing", of.Number(), of.Name())
					continue
				}
				if got, want := fieldShape(cf), fieldShape(of); got != want {
					t.Errorf("field %d is\n%s\nin the proto3 API\n%s", of.Number(), got, want)
				}
			}
		})
	}

	for i := range old.Enums().Len() {
		oe := old.Enums().Get(i)
		ce := cur.Enums().ByName(oe.Name())
		if ce == nil {
			t.Errorf("enum %s missing", oe.Name())
			continue
		}
		if got, want := enumShape(ce), enumShape(oe); got != want {
			t.Errorf("enum %s is %s, in the proto3 API %s", oe.Name(), got, want)
		}
	}

	for i := range old.Services().Len() {
		os := old.Services().Get(i)
		cs := cur.Services().ByName(os.Name())
		if cs == nil {
			t.Errorf("service %s missing", os.Name())
			continue
		}
		for j := range os.Methods().Len() {
			om := os.Methods().Get(j)
			cm := cs.Methods().ByName(om.Name())
			if cm == nil {
				t.Errorf("method %s.%s missing", os.Name(), om.Name())
				continue
			}
			if got, want := methodShape(cm), methodShape(om); got != want {
				t.Errorf("method %s.%s is %s, in the proto3 API %s", os.Name(), om.Name(), got, want)
			}
		}
	}
}

func imports(fd protoreflect.FileDescriptor) []string {
	var s []string
	for i := range fd.Imports().Len() {
		imp := fd.Imports().Get(i)
		s = append(s, fmt.Sprintf("%s(public=%v,weak=%v)", imp.Path(), imp.IsPublic, imp.IsWeak))
	}
	return s
}

// fieldShape is everything about a field that the wire format, JSON or generated code depends on,
// except features.
func fieldShape(fd protoreflect.FieldDescriptor) string {
	typ := ""
	switch {
	case fd.Message() != nil:
		typ = string(fd.Message().FullName())
	case fd.Enum() != nil:
		typ = string(fd.Enum().FullName())
	}
	oneof := ""
	if o := fd.ContainingOneof(); o != nil {
		oneof = string(o.Name())
	}
	return fmt.Sprintf("number=%d name=%s json=%s kind=%v type=%s cardinality=%v index=%d presence=%v packed=%v list=%v map=%v oneof=%q default=%v extension=%v",
		fd.Number(), fd.Name(), fd.JSONName(), fd.Kind(), typ, fd.Cardinality(), fd.Index(), fd.HasPresence(), fd.IsPacked(),
		fd.IsList(), fd.IsMap(), oneof, fd.Default(), fd.IsExtension())
}

func enumShape(ed protoreflect.EnumDescriptor) string {
	s := fmt.Sprintf("closed=%v index=%d values:", ed.IsClosed(), ed.Index())
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		s += fmt.Sprintf(" %s=%d", v.Name(), v.Number())
	}
	return s
}

// methodShape is everything about a method that a call depends on. Its index does not matter:
// calls name the method.
func methodShape(m protoreflect.MethodDescriptor) string {
	return fmt.Sprintf("(%s) %s client_streaming=%v server_streaming=%v",
		m.Input().FullName(), m.Output().FullName(), m.IsStreamingClient(), m.IsStreamingServer())
}

// TestStringsAreNotCheckedForUTF8 pins the one intended difference from the proto3 API: every
// string field of counter.proto carries bytes that are not UTF-8 through encoding and decoding,
// so that the server, not protobuf, rejects them (with INVALID_ARGUMENT naming the field).
// Decoders built from the proto3 API refuse them, which is why the server never sends any.
func TestStringsAreNotCheckedForUTF8(t *testing.T) {
	old := proto3File(t)
	const notUTF8 = "\x80\xff"
	messages := tallyv1.File_tally_v1_counter_proto.Messages()
	for i := range messages.Len() {
		md := messages.Get(i)
		for j := range md.Fields().Len() {
			fd := md.Fields().Get(j)
			if fd.Kind() != protoreflect.StringKind {
				continue
			}
			t.Run(string(fd.FullName()), func(t *testing.T) {
				mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
				if err != nil {
					t.Fatal(err)
				}
				m := mt.New()
				if fd.IsList() {
					m.Mutable(fd).List().Append(protoreflect.ValueOfString(notUTF8))
				} else {
					m.Set(fd, protoreflect.ValueOfString(notUTF8))
				}
				wire, err := proto.Marshal(m.Interface())
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				got := mt.New()
				if err := proto.Unmarshal(wire, got.Interface()); err != nil {
					t.Fatalf("unmarshal: %v", err)
				}
				if !proto.Equal(got.Interface(), m.Interface()) {
					t.Errorf("round trip: got %v, want %v", got, m)
				}
				oldMD := old.Messages().ByName(md.Name())
				if oldMD == nil || oldMD.Fields().ByNumber(fd.Number()) == nil {
					return // added since: no proto3 decoder ever read it
				}
				if err := proto.Unmarshal(wire, dynamicpb.NewMessage(oldMD)); err == nil {
					t.Errorf("the proto3 API decodes a string that is not UTF-8; the test no longer shows the difference")
				}
			})
		}
	}
}
