package txn

import (
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

func TestApplyWrite(t *testing.T) {
	const (
		created    = int64(100)
		updated    = int64(200)
		deletedAt  = int64(300)
		commitTime = int64(1_000)
	)
	path := doc("c", "x")
	live := func(fields map[string]*pb.Value) *storage.Version {
		return &storage.Version{Path: path, CreateTime: created, UpdateTime: updated, Fields: fields}
	}
	tombstone := &storage.Version{Path: path, CreateTime: created, UpdateTime: deletedAt, Deleted: true}
	f := func(kv ...any) map[string]*pb.Value {
		m := map[string]*pb.Value{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(*pb.Value)
		}
		return m
	}

	tests := []struct {
		name string
		cur  *storage.Version
		w    Write
		// Expected outcome when the write succeeds. wantFields nil with wantDeleted false means
		// the document stays absent.
		wantFields      map[string]*pb.Value
		wantDeleted     bool
		wantChanged     bool
		wantUpdateTime  int64 // of the WriteResult
		wantCreateTime  int64 // of the resulting version
		wantTransformed []*pb.Value
		wantKind        Kind
	}{
		{
			name:        "update creates a missing document",
			w:           Write{Path: path, Fields: f("a", intV(1))},
			wantFields:  f("a", intV(1)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: commitTime,
		},
		{
			name:        "update over a tombstone starts a new create time",
			cur:         tombstone,
			w:           Write{Path: path, Fields: f("a", intV(1))},
			wantFields:  f("a", intV(1)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: commitTime,
		},
		{
			name:        "update without mask replaces every field",
			cur:         live(f("a", intV(1), "b", intV(2))),
			w:           Write{Path: path, Fields: f("c", intV(3))},
			wantFields:  f("c", intV(3)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:        "update without fields empties the document",
			cur:         live(f("a", intV(1))),
			w:           Write{Path: path},
			wantFields:  f(),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:        "mask changes only masked fields and ignores unmasked input",
			cur:         live(f("a", intV(1), "b", intV(2))),
			w:           Write{Path: path, Fields: f("a", intV(10), "z", intV(26)), HasMask: true, Mask: []value.FieldPath{fp("a")}},
			wantFields:  f("a", intV(10), "b", intV(2)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:        "mask sets a nested field keeping its siblings",
			cur:         live(f("m", mapV(f("x", intV(1), "y", intV(2))))),
			w:           Write{Path: path, Fields: f("m", mapV(f("x", intV(5)))), HasMask: true, Mask: []value.FieldPath{fp("m", "x")}},
			wantFields:  f("m", mapV(f("x", intV(5), "y", intV(2)))),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:        "masked field absent from the input is deleted",
			cur:         live(f("a", intV(1), "b", intV(2))),
			w:           Write{Path: path, Fields: f(), HasMask: true, Mask: []value.FieldPath{fp("b")}},
			wantFields:  f("a", intV(1)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:        "masked nested field absent from the input is deleted, its map stays",
			cur:         live(f("m", mapV(f("x", intV(1))))),
			w:           Write{Path: path, HasMask: true, Mask: []value.FieldPath{fp("m", "x")}},
			wantFields:  f("m", mapV(f())),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:           "mask deleting a field the document lacks changes nothing",
			cur:            live(f("a", intV(1))),
			w:              Write{Path: path, HasMask: true, Mask: []value.FieldPath{fp("gone"), fp("m", "gone")}},
			wantFields:     f("a", intV(1)),
			wantUpdateTime: updated, wantCreateTime: created,
		},
		{
			name:        "mask on a missing document creates it with the masked fields only",
			w:           Write{Path: path, Fields: f("a", intV(1), "b", intV(2)), HasMask: true, Mask: []value.FieldPath{fp("a"), fp("nope")}},
			wantFields:  f("a", intV(1)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: commitTime,
		},
		{
			name:        "mask of absent fields on a missing document creates it empty",
			w:           Write{Path: path, HasMask: true, Mask: []value.FieldPath{fp("a")}},
			wantFields:  f(),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: commitTime,
		},
		{
			name: "transform applies after the mask",
			cur:  live(f("a", intV(1), "n", intV(10))),
			w: Write{Path: path, Fields: f("a", intV(2)), HasMask: true, Mask: []value.FieldPath{fp("a")},
				Transforms: []FieldTransform{incrementBy(fp("n"), 5)}},
			wantFields:  f("a", intV(2), "n", intV(15)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
			wantTransformed: []*pb.Value{intV(15)},
		},
		{
			name: "transform sees the masked value of its field",
			cur:  live(f("n", intV(10))),
			w: Write{Path: path, Fields: f("n", intV(1)), HasMask: true, Mask: []value.FieldPath{fp("n")},
				Transforms: []FieldTransform{incrementBy(fp("n"), 5)}},
			wantFields:  f("n", intV(6)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
			wantTransformed: []*pb.Value{intV(6)},
		},
		{
			name:        "transform applies after a replacing update",
			cur:         live(f("n", intV(10), "a", intV(1))),
			w:           Write{Path: path, Fields: f("b", intV(2)), Transforms: []FieldTransform{incrementBy(fp("n"), 5)}},
			wantFields:  f("b", intV(2), "n", intV(5)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
			wantTransformed: []*pb.Value{intV(5)},
		},
		{
			name: "empty mask with transforms touches only the transformed fields",
			cur:  live(f("a", intV(1), "n", intV(1))),
			w: Write{Path: path, Fields: f("a", intV(99)), HasMask: true,
				Transforms: []FieldTransform{incrementBy(fp("n"), 1), incrementBy(fp("m", "k"), 3)}},
			wantFields:  f("a", intV(1), "n", intV(2), "m", mapV(f("k", intV(3)))),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
			wantTransformed: []*pb.Value{intV(2), intV(3)},
		},
		{
			name:           "identical update is a no-op that keeps the update time",
			cur:            live(f("a", intV(1), "m", mapV(f("x", strV("s"))))),
			w:              Write{Path: path, Fields: f("a", intV(1), "m", mapV(f("x", strV("s"))))},
			wantFields:     f("a", intV(1), "m", mapV(f("x", strV("s")))),
			wantUpdateTime: updated, wantCreateTime: created,
		},
		{
			name:           "masked update to the same value is a no-op",
			cur:            live(f("a", intV(1), "b", intV(2))),
			w:              Write{Path: path, Fields: f("a", intV(1)), HasMask: true, Mask: []value.FieldPath{fp("a")}},
			wantFields:     f("a", intV(1), "b", intV(2)),
			wantUpdateTime: updated, wantCreateTime: created,
		},
		{
			name:           "transform that changes nothing is a no-op but still reports its result",
			cur:            live(f("n", intV(10))),
			w:              Write{Path: path, HasMask: true, Transforms: []FieldTransform{maximumOf(fp("n"), 3)}},
			wantFields:     f("n", intV(10)),
			wantUpdateTime: updated, wantCreateTime: created,
			wantTransformed: []*pb.Value{intV(10)},
		},
		{
			name:        "integer and double of equal value differ",
			cur:         live(f("n", intV(1))),
			w:           Write{Path: path, Fields: f("n", &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: 1}})},
			wantFields:  f("n", &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: 1}}),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{
			name:        "delete leaves a tombstone at the commit time",
			cur:         live(f("a", intV(1))),
			w:           Write{Path: path, Delete: true},
			wantDeleted: true, wantChanged: true, wantCreateTime: created,
		},
		{name: "delete of a missing document is a no-op", w: Write{Path: path, Delete: true}},
		{name: "delete of a tombstone is a no-op", cur: tombstone, w: Write{Path: path, Delete: true}},

		// Preconditions.
		{name: "exists=true on a missing document", w: Write{Path: path, Exists: boolPtr(true)}, wantKind: KindNotFound},
		{name: "exists=true on a tombstone", cur: tombstone, w: Write{Path: path, Exists: boolPtr(true)}, wantKind: KindNotFound},
		{name: "exists=true delete of a missing document", w: Write{Path: path, Delete: true, Exists: boolPtr(true)}, wantKind: KindNotFound},
		{
			name:        "exists=true on an existing document",
			cur:         live(f("a", intV(1))),
			w:           Write{Path: path, Fields: f("a", intV(2)), Exists: boolPtr(true)},
			wantFields:  f("a", intV(2)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{name: "exists=false on an existing document", cur: live(f()), w: Write{Path: path, Exists: boolPtr(false)}, wantKind: KindAlreadyExists},
		{
			name:        "exists=false on a tombstone",
			cur:         tombstone,
			w:           Write{Path: path, Fields: f("a", intV(1)), Exists: boolPtr(false)},
			wantFields:  f("a", intV(1)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: commitTime,
		},
		{
			name:        "update_time that matches",
			cur:         live(f("a", intV(1))),
			w:           Write{Path: path, Fields: f("a", intV(2)), UpdateTime: updated},
			wantFields:  f("a", intV(2)),
			wantChanged: true, wantUpdateTime: commitTime, wantCreateTime: created,
		},
		{name: "update_time that differs", cur: live(f("a", intV(1))), w: Write{Path: path, UpdateTime: updated + 1}, wantKind: KindFailedPrecondition},
		{name: "update_time that can never hold", cur: live(f("a", intV(1))), w: Write{Path: path, UpdateTime: -1}, wantKind: KindFailedPrecondition},
		{name: "update_time on a missing document", w: Write{Path: path, UpdateTime: updated}, wantKind: KindNotFound},
		{name: "update_time on a tombstone", cur: tombstone, w: Write{Path: path, UpdateTime: deletedAt}, wantKind: KindNotFound},
		{name: "update_time delete that differs", cur: live(f()), w: Write{Path: path, Delete: true, UpdateTime: 1}, wantKind: KindFailedPrecondition},

		// Writes the engine refuses whatever the state.
		{
			name: "transform with a non-numeric operand",
			cur:  live(f("n", intV(1))),
			w: Write{Path: path, HasMask: true, Transforms: []FieldTransform{{Path: fp("n"), Transform: &pb.DocumentTransform_FieldTransform{
				FieldPath: "n", TransformType: &pb.DocumentTransform_FieldTransform_Increment{Increment: strV("1")},
			}}}},
			wantKind: KindInvalidArgument,
		},
		{
			name:     "document over the size limit",
			w:        Write{Path: path, Fields: f("s", strV(strings.Repeat("x", value.MaxDocumentSize)))},
			wantKind: KindInvalidArgument,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *storage.Version
			if tt.cur != nil {
				before = cloneVersion(tt.cur)
			}
			next, changed, res, err := applyWrite(testDB, &tt.w, tt.cur, commitTime)
			if tt.cur != nil && !versionsEqual(tt.cur, before) {
				t.Errorf("applyWrite modified the current version: %+v, was %+v", tt.cur, before)
			}
			if tt.wantKind != 0 {
				wantKind(t, err, tt.wantKind)
				if next != nil || changed {
					t.Errorf("failed write returned next=%+v changed=%v, want nil, false", next, changed)
				}
				return
			}
			if err != nil {
				t.Fatalf("applyWrite: %v", err)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if res.UpdateTime != tt.wantUpdateTime {
				t.Errorf("WriteResult.UpdateTime = %d, want %d", res.UpdateTime, tt.wantUpdateTime)
			}
			if !valuesEqual(res.TransformResults, tt.wantTransformed) {
				t.Errorf("TransformResults = %v, want %v", res.TransformResults, tt.wantTransformed)
			}
			switch {
			case tt.wantDeleted:
				if next == nil || !next.Deleted || next.UpdateTime != commitTime || next.CreateTime != tt.wantCreateTime {
					t.Fatalf("next = %+v, want a tombstone at %d created at %d", next, commitTime, tt.wantCreateTime)
				}
				if res.Document != nil {
					t.Errorf("WriteResult.Document = %+v, want nil for a delete", res.Document)
				}
			case tt.wantFields == nil:
				if changed || (next != nil && !next.Deleted) {
					t.Fatalf("next = %+v, changed = %v; want the document to stay absent", next, changed)
				}
			default:
				if next == nil || next.Deleted {
					t.Fatalf("next = %+v, want a live document", next)
				}
				if !value.FieldsEqual(next.Fields, tt.wantFields) {
					t.Errorf("fields = %v, want %v", next.Fields, tt.wantFields)
				}
				if next.UpdateTime != tt.wantUpdateTime || next.CreateTime != tt.wantCreateTime {
					t.Errorf("times = create %d update %d, want create %d update %d",
						next.CreateTime, next.UpdateTime, tt.wantCreateTime, tt.wantUpdateTime)
				}
				if res.Document != next {
					t.Errorf("WriteResult.Document = %+v, want the resulting version %+v", res.Document, next)
				}
			}
		})
	}
}

// TestApplyWriteDoesNotAliasInput checks that a masked write's stored document does not share
// values with the request. (A write without a mask hands its fields to the engine, which stores
// them as they are: see Write.Fields.)
func TestApplyWriteDoesNotAliasInput(t *testing.T) {
	tests := []struct {
		name string
		w    Write
	}{
		{"mask", Write{Path: doc("c", "x"), Fields: map[string]*pb.Value{"m": mapV(map[string]*pb.Value{"k": intV(1)})},
			HasMask: true, Mask: []value.FieldPath{fp("m")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, _, _, err := applyWrite(testDB, &tt.w, nil, 10)
			if err != nil {
				t.Fatalf("applyWrite: %v", err)
			}
			tt.w.Fields["m"].GetMapValue().Fields["k"] = intV(2)
			if got := next.Fields["m"].GetMapValue().GetFields()["k"].GetIntegerValue(); got != 1 {
				t.Errorf("changing the request changed the stored document: m.k = %d, want 1", got)
			}
		})
	}
}

func cloneVersion(v *storage.Version) *storage.Version {
	c := *v
	c.Path = append([]string(nil), v.Path...)
	if v.Fields != nil {
		c.Fields = value.CloneFields(v.Fields)
	}
	return &c
}

func versionsEqual(a, b *storage.Version) bool {
	return a.CreateTime == b.CreateTime && a.UpdateTime == b.UpdateTime && a.Deleted == b.Deleted &&
		strings.Join(a.Path, "/") == strings.Join(b.Path, "/") && value.FieldsEqual(a.Fields, b.Fields)
}

func valuesEqual(a, b []*pb.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
