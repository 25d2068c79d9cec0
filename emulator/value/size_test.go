package value

import (
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// The worked example of Firestore's storage-size documentation: a document in users/jeff/tasks
// with ID my_task_id.
var (
	examplePath   = []string{"users", "jeff", "tasks", "my_task_id"}
	exampleFields = map[string]*pb.Value{
		"type":        strV("Personal"),
		"done":        boolV(false),
		"priority":    intV(1),
		"description": strV("Learn Cloud Firestore"),
	}
)

func TestSizeWorkedExample(t *testing.T) {
	fieldSizes := map[string]int{"type": 14, "done": 6, "priority": 17, "description": 34}
	for name, want := range fieldSizes {
		t.Run(name, func(t *testing.T) {
			if got := FieldsSize(map[string]*pb.Value{name: exampleFields[name]}); got != want {
				t.Errorf("size of field %q = %d, want %d", name, got, want)
			}
		})
	}
	if got := FieldsSize(exampleFields); got != 71 {
		t.Errorf("FieldsSize = %d, want 71", got)
	}
	if got := DocumentSize(examplePath, exampleFields); got != 147 {
		t.Errorf("DocumentSize = %d, want 147 (44 name + 71 fields + 32)", got)
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		name string
		v    *pb.Value
		want int
	}{
		{"null", nullV(), 1},
		{"boolean", boolV(true), 1},
		{"integer", intV(1 << 40), 8},
		{"double", dblV(0.5), 8},
		{"timestamp", tsV(1, 2), 8},
		{"geo point", geoV(1, 2), 16},
		{"empty string", strV(""), 1},
		{"string counts UTF-8 bytes", strV("é😀"), 2 + 4 + 1},
		{"bytes", bytesV(1, 2, 3), 3},
		{"reference is its document name size", refV("users/jeff/tasks/my_task_id"), 44},
		{"empty array", arrV(), 0},
		{"array", arrV(intV(1), strV("ab"), nullV()), 8 + 3 + 1},
		{"empty map", mapV(nil), 0},
		{"map", mapV(map[string]*pb.Value{"a": intV(1), "bc": boolV(true)}), 2 + 8 + 3 + 1},
		{"nested map", mapV(map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"k": strV("v")})}), 2 + 2 + 2},
		{"vector is 8 bytes per dimension", vecV(1, 2, 3), 24},
		{"unset value", &pb.Value{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Size(tt.v); got != tt.want {
				t.Errorf("Size = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDocumentSizeLimit(t *testing.T) {
	path := []string{"c", "d"}
	base := DocumentSize(path, map[string]*pb.Value{"s": strV("")})
	fits := map[string]*pb.Value{"s": strV(strings.Repeat("x", MaxDocumentSize-base))}
	if got := DocumentSize(path, fits); got != MaxDocumentSize {
		t.Fatalf("DocumentSize = %d, want exactly %d", got, MaxDocumentSize)
	}
	tooBig := map[string]*pb.Value{"s": strV(strings.Repeat("x", MaxDocumentSize-base+1))}
	if got := DocumentSize(path, tooBig); got <= MaxDocumentSize {
		t.Fatalf("DocumentSize = %d, want more than %d", got, MaxDocumentSize)
	}
}
