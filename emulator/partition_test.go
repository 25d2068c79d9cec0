package emulator_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/query"
)

// writeGroup creates n documents of collection group id spread over several parents, plus
// documents of other groups around them, and returns the paths of the group's documents.
func writeGroup(t *testing.T, c *firestore.Client, id string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var paths []string
	b := c.BulkWriter(ctx)
	for i := range n {
		var ref *firestore.DocumentRef
		switch i % 3 {
		case 0:
			ref = c.Collection(id).Doc(fmt.Sprintf("d%04d", i))
		case 1:
			ref = c.Collection("parents").Doc(fmt.Sprintf("p%d", i%7)).Collection(id).Doc(fmt.Sprintf("d%04d", i))
		default:
			ref = c.Collection("a").Doc("b").Collection("c").Doc(fmt.Sprintf("n%d", i%5)).Collection(id).Doc(fmt.Sprintf("d%04d", i))
		}
		if _, err := b.Set(ref, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, ref.Path)
		if i%10 == 0 {
			if _, err := b.Set(c.Collection(id+"x").Doc(fmt.Sprintf("o%d", i)), map[string]any{"other": true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.End()
	slices.Sort(paths)
	return paths
}

// TestPartitionedQueries partitions collection groups with the official client's
// GetPartitionedQueries and runs every partition: together they return each document once.
func TestPartitionedQueries(t *testing.T) {
	t.Parallel()
	storageModes(t, func(t *testing.T, c *firestore.Client) {
		ctx := context.Background()
		tests := []struct {
			name          string
			docs, count   int
			minParts, max int
		}{
			{"a group that does not exist", 0, 10, 1, 1},
			{"one document", 1, 10, 1, 1},
			{"too few to split", 2*query.MinPartitionSize - 1, 10, 1, 1},
			{"the official suite's large case", 2*query.MinPartitionSize + 127, 10, 3, 3},
			{"a partition count smaller than the documents allow", 1000, 3, 4, 4},
			{"partition count one", 1000, 1, 1, 1},
		}
		for i, tt := range tests {
			id := fmt.Sprintf("group%d", i)
			want := writeGroup(t, c, id, tt.docs)
			parts, err := c.CollectionGroup(id).GetPartitionedQueries(ctx, tt.count)
			if err != nil {
				t.Fatalf("%s: GetPartitionedQueries: %v", tt.name, err)
			}
			if len(parts) < tt.minParts || len(parts) > tt.max {
				t.Errorf("%s: %d partitions, want %d to %d", tt.name, len(parts), tt.minParts, tt.max)
			}
			var got []string
			for j, q := range parts {
				docs, err := q.Documents(ctx).GetAll()
				if err != nil {
					t.Fatalf("%s: partition %d: %v", tt.name, j, err)
				}
				if j < len(parts)-1 && len(docs) < query.MinPartitionSize {
					t.Errorf("%s: partition %d holds %d documents, fewer than %d", tt.name, j, len(docs), query.MinPartitionSize)
				}
				// A partition serialized for another worker returns the same documents.
				b, err := q.Serialize()
				if err != nil {
					t.Fatal(err)
				}
				back, err := c.CollectionGroup("unused").Deserialize(b)
				if err != nil {
					t.Fatal(err)
				}
				again, err := back.Documents(ctx).GetAll()
				if err != nil {
					t.Fatal(err)
				}
				if len(again) != len(docs) {
					t.Errorf("%s: partition %d returns %d documents, deserialized %d", tt.name, j, len(docs), len(again))
				}
				for _, d := range docs {
					got = append(got, d.Ref.Path)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: the partitions return %d documents, want the group's %d once each", tt.name, len(got), len(want))
			}
		}
	})
}

// TestPartitionQueryPaging asks for the partition points a page at a time: the pages, read at
// the read time of the first, add up to the points of one unpaged request even when documents
// are written between pages.
func TestPartitionQueryPaging(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, emulator.Options{})
	c := emulatortest.NewClient(t, em.Addr(), project)
	raw := rawClient(t, em)
	ctx := context.Background()
	writeGroup(t, c, "g", 20*query.MinPartitionSize)
	root := "projects/" + project + "/databases/(default)/documents"
	req := func(count int64, size int32, token string) *pb.PartitionQueryRequest {
		return &pb.PartitionQueryRequest{
			Parent: root, PartitionCount: count, PageSize: size, PageToken: token,
			QueryType: &pb.PartitionQueryRequest_StructuredQuery{StructuredQuery: &pb.StructuredQuery{
				From:    []*pb.StructuredQuery_CollectionSelector{{CollectionId: "g", AllDescendants: true}},
				OrderBy: []*pb.StructuredQuery_Order{{Field: &pb.StructuredQuery_FieldReference{FieldPath: "__name__"}, Direction: pb.StructuredQuery_ASCENDING}},
			}},
		}
	}
	whole, err := raw.PartitionQuery(ctx, req(9, 0, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.GetPartitions()) != 9 || whole.GetNextPageToken() != "" {
		t.Fatalf("unpaged: %d points and token %q, want 9 and none", len(whole.GetPartitions()), whole.GetNextPageToken())
	}
	var paged []*pb.Cursor
	token := ""
	for page := 0; ; page++ {
		resp, err := raw.PartitionQuery(ctx, req(9, 4, token))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetPartitions()) > 4 {
			t.Fatalf("page %d has %d points, page size 4", page, len(resp.GetPartitions()))
		}
		paged = append(paged, resp.GetPartitions()...)
		if page == 0 {
			writeGroup(t, c, "g", 5*query.MinPartitionSize) // rewrites the first documents, adds none of the group
			if _, err := c.Collection("g").Doc("a-new-first").Set(ctx, map[string]any{}); err != nil {
				t.Fatal(err)
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.EqualFunc(paged, whole.GetPartitions(), func(a, b *pb.Cursor) bool { return proto.Equal(a, b) }) {
		t.Fatalf("paged points differ from the unpaged ones:\n%v\n%v", paged, whole.GetPartitions())
	}

	bad := []struct {
		name string
		edit func(*pb.PartitionQueryRequest)
	}{
		{"a collection query", func(r *pb.PartitionQueryRequest) { r.GetStructuredQuery().From[0].AllDescendants = false }},
		{"ordered by a field", func(r *pb.PartitionQueryRequest) {
			r.GetStructuredQuery().OrderBy = []*pb.StructuredQuery_Order{{Field: &pb.StructuredQuery_FieldReference{FieldPath: "i"}}}
		}},
		{"ordered by name descending", func(r *pb.PartitionQueryRequest) {
			r.GetStructuredQuery().OrderBy[0].Direction = pb.StructuredQuery_DESCENDING
		}},
		{"filtered", func(r *pb.PartitionQueryRequest) {
			r.GetStructuredQuery().Where = nameFilter(pb.StructuredQuery_FieldFilter_GREATER_THAN, root+"/g/x")
		}},
		{"with a cursor", func(r *pb.PartitionQueryRequest) {
			r.GetStructuredQuery().StartAt = &pb.Cursor{Values: []*pb.Value{nameRef(root + "/g/x")}}
		}},
		{"with a limit", func(r *pb.PartitionQueryRequest) { r.GetStructuredQuery().Limit = wrapperspb.Int32(5) }},
		{"below a document", func(r *pb.PartitionQueryRequest) { r.Parent = root + "/parents/p1" }},
		{"no partitions asked", func(r *pb.PartitionQueryRequest) { r.PartitionCount = 0 }},
		{"a negative page size", func(r *pb.PartitionQueryRequest) { r.PageSize = -1 }},
		{"a forged page token", func(r *pb.PartitionQueryRequest) { r.PageToken = "not-a-token" }},
		{"no query", func(r *pb.PartitionQueryRequest) { r.QueryType = nil }},
	}
	for _, tt := range bad {
		r := req(3, 0, "")
		tt.edit(r)
		_, err := raw.PartitionQuery(ctx, r)
		if got := status.Code(err); got != codes.InvalidArgument {
			t.Errorf("%s: got %v (%v), want InvalidArgument", tt.name, got, err)
		}
	}
}
