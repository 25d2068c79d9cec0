package query

import (
	"context"
	"fmt"
	"slices"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
)

func TestPartitionPoints(t *testing.T) {
	groupOf := func(n int) *fakeSource {
		var docs []*storage.Version
		for i := range n {
			docs = append(docs, doc(fmt.Sprintf("g/%05d", i), nil), doc(fmt.Sprintf("p/%05d/g/x", i), nil), doc(fmt.Sprintf("other/%05d", i), nil))
		}
		return newSource(docs...)
	}
	tests := []struct {
		name      string
		docs      int // half in g, half in p/*/g: the group holds 2*docs
		maxPoints int64
		want      []int // indexes into the group's documents in name order
	}{
		{"too few", MinPartitionSize - 1, 10, nil},
		{"exactly two partitions", MinPartitionSize, 10, []int{MinPartitionSize}},
		{"even split", 500, 3, []int{250, 500, 750}},
		{"no points asked", 500, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := groupOf(tt.docs)
			var group [][]string
			for _, d := range src.docs {
				if d.Path[len(d.Path)-2] == "g" {
					group = append(group, d.Path)
				}
			}
			p, err := CompilePartition(testDB, &pb.StructuredQuery{From: fromGroup("g"), OrderBy: []*pb.StructuredQuery_Order{asc("__name__")}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Points(context.Background(), src, tt.maxPoints)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]string
			for _, i := range tt.want {
				want = append(want, group[i])
			}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("points %q, want %q", got, want)
			}
		})
	}
}

func TestCompilePartitionErrors(t *testing.T) {
	byName := []*pb.StructuredQuery_Order{asc("__name__")}
	tests := []struct {
		name string
		sq   *pb.StructuredQuery
	}{
		{"no query", nil},
		{"a collection", &pb.StructuredQuery{From: from("g"), OrderBy: byName}},
		{"ordered by a field", &pb.StructuredQuery{From: fromGroup("g"), OrderBy: []*pb.StructuredQuery_Order{asc("n")}}},
		{"then by a field", &pb.StructuredQuery{From: fromGroup("g"), OrderBy: append(byName, asc("n"))}},
		{"descending", &pb.StructuredQuery{From: fromGroup("g"), OrderBy: []*pb.StructuredQuery_Order{desc("__name__")}}},
		{"filtered", &pb.StructuredQuery{From: fromGroup("g"), Where: where("n", opEQ, iv(1))}},
		{"a cursor", &pb.StructuredQuery{From: fromGroup("g"), OrderBy: byName, EndAt: endAt(refv("g/x"))}},
		{"an offset", &pb.StructuredQuery{From: fromGroup("g"), Offset: 1}},
		{"a limit", &pb.StructuredQuery{From: fromGroup("g"), Limit: limit(1)}},
		{"a bad collection id", &pb.StructuredQuery{From: fromGroup("__x__")}},
	}
	for _, tt := range tests {
		if _, err := CompilePartition(testDB, tt.sq); err == nil {
			t.Errorf("%s: compiled", tt.name)
		}
	}
}
