package emulator_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// TestExactSums runs the official suite's sums and averages over doubles: production answers
// 35.7 and 5.95 where adding in document order gives 35.699999999999996 and 5.949999999999999.
// The documents' ids are chosen so that name order is not weight order.
func TestExactSums(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		col := c.Collection("items")
		weights := []float64{8.2, 1.5, 7.1, 2.6, 6.0, 3.7, 5.9, 4.8}
		docs := make(map[string]map[string]any)
		for i, w := range weights {
			docs[fmt.Sprintf("d%d", i)] = map[string]any{"weight": w, "volume": 99 - i}
		}
		docs["huge"] = map[string]any{"big": math.MaxFloat64}
		docs["huge2"] = map[string]any{"big": math.MaxFloat64}
		docs["mixed"] = map[string]any{"mix": int64(math.MaxInt64)}
		docs["mixed2"] = map[string]any{"mix": 0.5}
		docs["mixed3"] = map[string]any{"mix": int64(-math.MaxInt64)}
		setAll(t, c, col, docs)

		byWeight := col.Where("weight", ">=", 2.6).OrderBy("weight", firestore.Asc)
		tests := []struct {
			name     string
			q        firestore.Query
			sum, avg float64
			count    int64
		}{
			{"every weight", col.Where("weight", ">=", 1), 39.8, 4.975, 8},
			{"start at 3.7", byWeight.StartAt(3.7), 35.7, 5.95, 6},
			{"start after 3.7", byWeight.StartAfter(3.7), 32, 6.4, 5},
			{"end at 7.1", byWeight.EndAt(7.1), 30.1, 5.016666666666667, 6},
			{"end before 7.1", byWeight.EndBefore(7.1), 23, 4.6, 5},
			{"limit 4", col.Where("weight", ">=", 1).OrderBy("weight", firestore.Asc).Limit(4), 12.6, 3.15, 4},
		}
		for _, tt := range tests {
			res, err := tt.q.NewAggregationQuery().WithSum("weight", "s").WithAvg("weight", "a").WithCount("c").Get(ctx)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := res["s"].(*pb.Value); got.GetDoubleValue() != tt.sum {
				t.Errorf("%s: sum = %v, want %v", tt.name, got, tt.sum)
			}
			if got := res["a"].(*pb.Value); got.GetDoubleValue() != tt.avg {
				t.Errorf("%s: avg = %v, want %v", tt.name, got, tt.avg)
			}
			if got := res["c"].(*pb.Value).GetIntegerValue(); got != tt.count {
				t.Errorf("%s: count = %d, want %d", tt.name, got, tt.count)
			}
		}

		res, err := col.NewAggregationQuery().WithSum("big", "s").WithAvg("big", "a").WithSum("mix", "m").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := res["s"].(*pb.Value).GetDoubleValue(); !math.IsInf(got, 1) {
			t.Errorf("sum beyond the largest double = %v, want +Inf", got)
		}
		if got := res["a"].(*pb.Value).GetDoubleValue(); !math.IsInf(got, 1) {
			t.Errorf("average of two largest doubles = %v, want +Inf, the infinite sum divided", got)
		}
		// Added in name order as doubles, MaxInt64 + 0.5 rounds to 2^63 and the half is lost.
		if got := res["m"].(*pb.Value); got.GetDoubleValue() != 0.5 {
			t.Errorf("integers and a double = %v, want the double 0.5", got)
		}
	})
}
