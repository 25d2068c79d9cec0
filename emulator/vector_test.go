package emulator_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
)

type coffeeBean struct {
	ID              int
	EmbeddedField64 firestore.Vector64
	EmbeddedField32 firestore.Vector32
	Float32s        []float32 // an array, not a vector
}

// TestFindNearest runs vector searches through the official client over the official suite's
// coffee beans, in memory and on disk.
func TestFindNearest(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("beans").Doc("shop").Collection("indexed")
		beans := []coffeeBean{
			{ID: 0, EmbeddedField64: []float64{1, 2, 3}, EmbeddedField32: []float32{1, 2, 3}, Float32s: []float32{1, 2, 3}},
			{ID: 1, EmbeddedField64: []float64{4, 5, 6}, EmbeddedField32: []float32{4, 5, 6}, Float32s: []float32{4, 5, 6}},
			{ID: 2, EmbeddedField64: []float64{7, 8, 9}, EmbeddedField32: []float32{7, 8, 9}, Float32s: []float32{7, 8, 9}},
			{ID: 3, EmbeddedField64: []float64{10, 11, 12}, EmbeddedField32: []float32{10, 11, 12}, Float32s: []float32{10, 11, 12}},
			{ID: 4, EmbeddedField64: []float64{100, 200, 300}, EmbeddedField32: []float32{100, 200, 300}, Float32s: []float32{100, 200, 300}},
			{ID: 5, EmbeddedField64: []float64{1, 2}, EmbeddedField32: []float32{1, 2}, Float32s: []float32{1, 2}}, // another dimension
		}
		for _, b := range beans {
			if _, err := col.NewDoc().Create(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := col.NewDoc().Create(ctx, map[string]any{"ID": 6, "EmbeddedField64": "not a vector"}); err != nil {
			t.Fatal(err)
		}
		target := []float64{1, 2, 3}
		threshold := func(x float64) *float64 { return &x }
		tests := []struct {
			name       string
			vq         firestore.VectorQuery
			want       []int
			distances  []float64 // when the distance is returned in "dist"
			checkBeans bool
		}{
			{"euclidean without threshold", col.FindNearest("EmbeddedField64", target, 2, firestore.DistanceMeasureEuclidean, nil), []int{0, 1}, nil, true},
			{"euclidean with threshold and result field", col.FindNearest("EmbeddedField64", target, 3, firestore.DistanceMeasureEuclidean,
				&firestore.FindNearestOptions{DistanceThreshold: threshold(20), DistanceResultField: "dist"}),
				[]int{0, 1, 2}, []float64{0, math.Sqrt(27), math.Sqrt(108)}, true},
			{"a threshold tighter than the limit", col.FindNearest("EmbeddedField64", target, 10, firestore.DistanceMeasureEuclidean,
				&firestore.FindNearestOptions{DistanceThreshold: threshold(6)}), []int{0, 1}, nil, false},
			{"float32 vectors", col.FindNearest("EmbeddedField32", firestore.Vector32{1, 2, 3}, 4, firestore.DistanceMeasureEuclidean, nil), []int{0, 1, 2, 3}, nil, true},
			{"an array is not a vector", col.FindNearest("Float32s", target, 4, firestore.DistanceMeasureEuclidean, nil), nil, nil, false},
			// Bean 4 points the way of bean 0: both are at distance 0, and their random ids
			// would order them, so the cosine cases leave bean 4 out.
			{"cosine", col.Where("ID", "<=", 3).FindNearest("EmbeddedField64", target, 3, firestore.DistanceMeasureCosine, nil), []int{0, 1, 2}, nil, false},
			{"cosine within a threshold", col.Where("ID", "<=", 3).FindNearest("EmbeddedField64", target, 10, firestore.DistanceMeasureCosine,
				&firestore.FindNearestOptions{DistanceThreshold: threshold(0.03)}), []int{0, 1}, nil, false},
			{"dot product, the largest first", col.FindNearest("EmbeddedField64", target, 3, firestore.DistanceMeasureDotProduct,
				&firestore.FindNearestOptions{DistanceResultField: "dist"}), []int{4, 3, 2}, []float64{1400, 68, 50}, false},
			{"dot product at least a threshold", col.FindNearest("EmbeddedField64", target, 10, firestore.DistanceMeasureDotProduct,
				&firestore.FindNearestOptions{DistanceThreshold: threshold(50)}), []int{4, 3, 2}, nil, false},
			{"pre-filtered", col.Where("ID", ">=", 2).FindNearest("EmbeddedField64", target, 2, firestore.DistanceMeasureEuclidean, nil), []int{2, 3}, nil, false},
			{"a collection group", c.CollectionGroup("indexed").Where("ID", "in", []int{3, 4}).FindNearest("EmbeddedField64", target, 5, firestore.DistanceMeasureEuclidean, nil),
				[]int{3, 4}, nil, false},
		}
		for _, tt := range tests {
			docs, err := tt.vq.Documents(ctx).GetAll()
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []int
			for i, d := range docs {
				var b coffeeBean
				if err := d.DataTo(&b); err != nil {
					t.Fatalf("%s: DataTo: %v", tt.name, err)
				}
				got = append(got, b.ID)
				if tt.checkBeans && !slices.Equal(b.EmbeddedField64, beans[b.ID].EmbeddedField64) {
					t.Errorf("%s: bean %d has the vector %v, want %v", tt.name, b.ID, b.EmbeddedField64, beans[b.ID].EmbeddedField64)
				}
				if tt.distances != nil {
					if dist, _ := d.Data()["dist"].(float64); i < len(tt.distances) && dist != tt.distances[i] {
						t.Errorf("%s: result %d has dist %v, want %v", tt.name, i, d.Data()["dist"], tt.distances[i])
					}
				} else if _, has := d.Data()["dist"]; has {
					t.Errorf("%s: a distance field nobody asked for", tt.name)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: got beans %v, want %v", tt.name, got, tt.want)
			}
		}

		bad := []struct {
			name string
			vq   firestore.VectorQuery
		}{
			{"limit above 1000", col.FindNearest("EmbeddedField64", target, 1001, firestore.DistanceMeasureEuclidean, nil)},
			{"limit zero", col.FindNearest("EmbeddedField64", target, 0, firestore.DistanceMeasureEuclidean, nil)},
			{"no distance measure", col.FindNearest("EmbeddedField64", target, 5, 0, nil)},
			{"an empty query vector", col.FindNearest("EmbeddedField64", []float64{}, 5, firestore.DistanceMeasureEuclidean, nil)},
		}
		for _, tt := range bad {
			_, err := tt.vq.Documents(ctx).GetAll()
			if err == nil {
				t.Errorf("%s: no error", tt.name)
				continue
			}
			wantCode(t, err, codes.InvalidArgument)
		}
	})
}
