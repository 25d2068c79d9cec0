package emulator_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

func TestTransforms(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		tests := []struct {
			name    string
			initial map[string]any // nil: the document does not exist
			update  any            // the transform applied to field "f"
			want    any            // the value of "f" afterwards
		}{
			{"increment int", map[string]any{"f": 5}, firestore.Increment(3), int64(8)},
			{"increment creates missing document", nil, firestore.Increment(7), int64(7)},
			{"increment replaces non-number", map[string]any{"f": "text"}, firestore.Increment(2), int64(2)},
			{"increment saturates at max int64", map[string]any{"f": int64(math.MaxInt64 - 1)}, firestore.Increment(10), int64(math.MaxInt64)},
			{"increment saturates at min int64", map[string]any{"f": int64(math.MinInt64 + 1)}, firestore.Increment(-10), int64(math.MinInt64)},
			{"int plus double is double", map[string]any{"f": 1}, firestore.Increment(0.5), 1.5},
			{"double plus int is double", map[string]any{"f": 1.5}, firestore.Increment(1), 2.5},
			{"maximum keeps larger stored", map[string]any{"f": 9}, firestore.FieldTransformMaximum(3), int64(9)},
			{"maximum takes larger operand", map[string]any{"f": 1}, firestore.FieldTransformMaximum(3.5), 3.5},
			{"maximum of missing field", map[string]any{"other": 1}, firestore.FieldTransformMaximum(4), int64(4)},
			{"minimum takes smaller operand", map[string]any{"f": 9}, firestore.FieldTransformMinimum(-2), int64(-2)},
			{"minimum keeps equal stored value type", map[string]any{"f": 3.0}, firestore.FieldTransformMinimum(3), 3.0},
			{"array union appends missing only", map[string]any{"f": []any{1, "a"}}, firestore.ArrayUnion(1.0, "b", "b"), []any{int64(1), "a", "b"}},
			{"array union on non-array", map[string]any{"f": 3}, firestore.ArrayUnion("x"), []any{"x"}},
			{"array remove removes all equal", map[string]any{"f": []any{1, 2, 1, 3.0}}, firestore.ArrayRemove(1, 3), []any{int64(2)}},
			{"array remove on missing field", map[string]any{}, firestore.ArrayRemove(1), []any{}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				doc := c.Collection("transforms").Doc(string(rune('a' + i)))
				if tt.initial != nil {
					if _, err := doc.Set(ctx, tt.initial); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := doc.Set(ctx, map[string]any{"f": tt.update}, firestore.MergeAll); err != nil {
					t.Fatal(err)
				}
				got := mustGet(t, doc).Data()["f"]
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("f = %#v, want %#v", got, tt.want)
				}
			})
		}

		t.Run("server timestamp is the commit time", func(t *testing.T) {
			doc := c.Collection("transforms").Doc("ts")
			wr, err := doc.Set(ctx, map[string]any{"at": firestore.ServerTimestamp, "n": 1})
			if err != nil {
				t.Fatal(err)
			}
			snap := mustGet(t, doc)
			if got := snap.Data()["at"].(time.Time); !got.Equal(wr.UpdateTime) {
				t.Fatalf("server timestamp %v, commit time %v", got, wr.UpdateTime)
			}
		})

		t.Run("transforms in update with an empty mask touch only their fields", func(t *testing.T) {
			doc := c.Collection("transforms").Doc("counter")
			if _, err := doc.Set(ctx, map[string]any{"keep": "me", "count": 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := doc.Update(ctx, []firestore.Update{{Path: "count", Value: firestore.Increment(41)}}); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"keep": "me", "count": int64(42)}
			if got := mustGet(t, doc).Data(); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	})
}
