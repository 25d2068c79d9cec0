package tallyv1_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// These tests pin the wire contract: renaming, renumbering or retyping anything
// below breaks deployed clients, so such a change must be deliberate and show
// up here.

func TestCounterServiceMethods(t *testing.T) {
	want := []struct {
		name, input, output string
		serverStreaming     bool
	}{
		{"Increment", "tally.v1.IncrementRequest", "tally.v1.IncrementResponse", false},
		{"BatchIncrement", "tally.v1.BatchIncrementRequest", "tally.v1.BatchIncrementResponse", false},
		{"GetCounter", "tally.v1.GetCounterRequest", "tally.v1.Counter", false},
		{"BatchGetCounters", "tally.v1.BatchGetCountersRequest", "tally.v1.BatchGetCountersResponse", false},
		{"WatchCounter", "tally.v1.WatchCounterRequest", "tally.v1.WatchCounterResponse", true},
		{"CreateCounter", "tally.v1.CreateCounterRequest", "tally.v1.Counter", false},
		{"UpdateCounter", "tally.v1.UpdateCounterRequest", "tally.v1.Counter", false},
		{"ResetCounter", "tally.v1.ResetCounterRequest", "tally.v1.ResetCounterResponse", false},
		{"DeleteCounter", "tally.v1.DeleteCounterRequest", "google.protobuf.Empty", false},
		{"ListCounters", "tally.v1.ListCountersRequest", "tally.v1.ListCountersResponse", false},
	}
	services := tallyv1.File_tally_v1_counter_proto.Services()
	if services.Len() != 1 {
		t.Fatalf("counter.proto declares %d services, want 1", services.Len())
	}
	svc := services.Get(0)
	if svc.FullName() != "tally.v1.CounterService" {
		t.Fatalf("service is %s, want tally.v1.CounterService", svc.FullName())
	}
	if svc.Methods().Len() != len(want) {
		t.Errorf("CounterService has %d methods, want %d", svc.Methods().Len(), len(want))
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			m := svc.Methods().ByName(protoreflect.Name(w.name))
			if m == nil {
				t.Fatalf("method %s missing", w.name)
			}
			if got := m.Input().FullName(); got != protoreflect.FullName(w.input) {
				t.Errorf("input is %s, want %s", got, w.input)
			}
			if got := m.Output().FullName(); got != protoreflect.FullName(w.output) {
				t.Errorf("output is %s, want %s", got, w.output)
			}
			if m.IsStreamingClient() || m.IsStreamingServer() != w.serverStreaming {
				t.Errorf("client streaming %v, server streaming %v; want only server streaming %v",
					m.IsStreamingClient(), m.IsStreamingServer(), w.serverStreaming)
			}
		})
	}
}

// field is the expected shape of one field. kind is the scalar kind or the
// full name of the message or enum, with "repeated " in front for lists.
type field struct {
	name   string
	number protoreflect.FieldNumber
	kind   string
}

func TestMessageFields(t *testing.T) {
	const (
		ts   = "google.protobuf.Timestamp"
		str  = "string"
		i64  = "int64"
		i32  = "int32"
		flag = "bool"
	)
	tests := map[string][]field{
		"Counter": {
			{"name", 1, str}, {"value", 2, i64}, {"shard_count", 3, i32},
			{"create_time", 4, ts}, {"update_time", 5, ts}, {"read_time", 6, ts},
			{"adaptive_shards", 7, flag},
		},
		"IncrementRequest":         {{"name", 1, str}, {"delta", 2, i64}, {"idempotency_key", 3, str}},
		"IncrementResponse":        {{"commit_time", 1, ts}, {"duplicate", 2, flag}},
		"BatchIncrementRequest":    {{"requests", 1, "repeated tally.v1.IncrementRequest"}, {"idempotency_key", 2, str}},
		"BatchIncrementResponse":   {{"commit_time", 1, ts}, {"duplicate", 2, flag}},
		"GetCounterRequest":        {{"name", 1, str}, {"read_time", 2, ts}},
		"BatchGetCountersRequest":  {{"names", 1, "repeated string"}, {"read_time", 2, ts}},
		"BatchGetCountersResponse": {{"counters", 1, "repeated tally.v1.Counter"}},
		"CreateCounterRequest":     {{"counter_id", 1, str}, {"counter", 2, "tally.v1.Counter"}},
		"UpdateCounterRequest":     {{"counter", 1, "tally.v1.Counter"}, {"update_mask", 2, "google.protobuf.FieldMask"}},
		"ResetCounterRequest":      {{"name", 1, str}, {"idempotency_key", 2, str}},
		"ResetCounterResponse":     {{"commit_time", 1, ts}, {"duplicate", 2, flag}},
		"DeleteCounterRequest":     {{"name", 1, str}},
		"ListCountersRequest": {
			{"page_size", 1, i32}, {"page_token", 2, str}, {"prefix", 3, str}, {"view", 4, "tally.v1.CounterView"},
		},
		"ListCountersResponse": {{"counters", 1, "repeated tally.v1.Counter"}, {"next_page_token", 2, str}},
		"WatchCounterRequest":  {{"name", 1, str}, {"min_interval", 2, "google.protobuf.Duration"}},
		"WatchCounterResponse": {{"counter", 1, "tally.v1.Counter"}, {"deleted", 2, flag}},
	}
	messages := tallyv1.File_tally_v1_counter_proto.Messages()
	if messages.Len() != len(tests) {
		t.Errorf("counter.proto declares %d messages, want %d", messages.Len(), len(tests))
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			md := messages.ByName(protoreflect.Name(name))
			if md == nil {
				t.Fatalf("message %s missing", name)
			}
			if md.Fields().Len() != len(want) {
				t.Errorf("%s has %d fields, want %d", name, md.Fields().Len(), len(want))
			}
			for _, w := range want {
				fd := md.Fields().ByName(protoreflect.Name(w.name))
				if fd == nil {
					t.Errorf("field %s missing", w.name)
					continue
				}
				if fd.Number() != w.number {
					t.Errorf("field %s is number %d, want %d", w.name, fd.Number(), w.number)
				}
				if got := describeKind(fd); got != w.kind {
					t.Errorf("field %s is %q, want %q", w.name, got, w.kind)
				}
			}
		})
	}
}

func describeKind(fd protoreflect.FieldDescriptor) string {
	kind := fd.Kind().String()
	switch {
	case fd.Message() != nil:
		kind = string(fd.Message().FullName())
	case fd.Enum() != nil:
		kind = string(fd.Enum().FullName())
	}
	if fd.IsList() {
		return "repeated " + kind
	}
	return kind
}

func TestCounterViewValues(t *testing.T) {
	tests := []struct {
		name   string
		number protoreflect.EnumNumber
	}{
		{"COUNTER_VIEW_UNSPECIFIED", 0},
		{"COUNTER_VIEW_BASIC", 1},
		{"COUNTER_VIEW_FULL", 2},
	}
	values := tallyv1.CounterView(0).Descriptor().Values()
	if values.Len() != len(tests) {
		t.Errorf("CounterView has %d values, want %d", values.Len(), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := values.ByName(protoreflect.Name(tt.name))
			if v == nil {
				t.Fatalf("value %s missing", tt.name)
			}
			if v.Number() != tt.number {
				t.Errorf("value %s is %d, want %d", tt.name, v.Number(), tt.number)
			}
		})
	}
}
