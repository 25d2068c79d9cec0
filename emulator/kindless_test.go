package emulator_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
)

// rawClient connects the generated Firestore gRPC client, for requests the official Go client
// cannot express.
func rawClient(t *testing.T, em *emulator.Emulator) pb.FirestoreClient {
	t.Helper()
	conn, err := grpc.NewClient(em.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewFirestoreClient(conn)
}

// runRaw runs a structured query and returns the names of the documents it yields.
func runRaw(t *testing.T, c pb.FirestoreClient, parent string, sq *pb.StructuredQuery) ([]string, error) {
	t.Helper()
	stream, err := c.RunQuery(context.Background(), &pb.RunQueryRequest{Parent: parent, QueryType: &pb.RunQueryRequest_StructuredQuery{StructuredQuery: sq}})
	if err != nil {
		return nil, err
	}
	var names []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if d := resp.GetDocument(); d != nil {
			if len(sq.GetSelect().GetFields()) > 0 && len(d.GetFields()) != 0 {
				t.Errorf("%s: fields %v, want only the name", d.GetName(), d.GetFields())
			}
			names = append(names, d.GetName())
		}
	}
}

func nameRef(name string) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_ReferenceValue{ReferenceValue: name}}
}

// TestKindlessRecursiveDelete deletes trees the way the Firebase CLI and the Node.js client's
// recursiveDelete do: a kindless query (no collection id, all descendants) for names only,
// ordered by name, in pages that start after the last name seen, each page deleted before the
// next is read.
func TestKindlessRecursiveDelete(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{false, true} {
		name := map[bool]string{false: "memory", true: "disk"}[durable]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := emulator.Options{}
			if durable {
				opts.DataDir = t.TempDir()
			}
			em := emulatortest.Start(t, opts)
			c := emulatortest.NewClient(t, em.Addr(), project)
			raw := rawClient(t, em)
			ctx := context.Background()
			root := "projects/" + project + "/databases/(default)/documents"
			tree := []string{"users/a", "users/a/posts/1", "users/a/posts/1/likes/x", "users/b", "users/b/posts/2",
				"users\x00x/keep", "usersz/keep", "other/keep", "other/keep/users/kept"}
			for _, p := range tree {
				if _, err := c.Doc(p).Set(ctx, map[string]any{"p": p}); err != nil {
					t.Fatal(err)
				}
			}
			byName := []*pb.StructuredQuery_Order{{Field: &pb.StructuredQuery_FieldReference{FieldPath: "__name__"}, Direction: pb.StructuredQuery_ASCENDING}}
			namesOnly := &pb.StructuredQuery_Projection{Fields: []*pb.StructuredQuery_FieldReference{{FieldPath: "__name__"}}}
			kindless := []*pb.StructuredQuery_CollectionSelector{{AllDescendants: true}}

			// Below a document: every descendant, not the document itself.
			got, err := runRaw(t, raw, root+"/users/a", &pb.StructuredQuery{From: kindless, Select: namesOnly, OrderBy: byName})
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{root + "/users/a/posts/1", root + "/users/a/posts/1/likes/x"}; !slices.Equal(got, want) {
				t.Fatalf("descendants of users/a = %q, want %q", got, want)
			}

			// A collection's subtree, bounded as the Node.js client bounds it: from the smallest
			// numeric id in the collection to the smallest one in the next possible collection.
			const minID = "__id-9223372036854775808__"
			bounds := &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_CompositeFilter{CompositeFilter: &pb.StructuredQuery_CompositeFilter{
				Op: pb.StructuredQuery_CompositeFilter_AND,
				Filters: []*pb.StructuredQuery_Filter{
					nameFilter(pb.StructuredQuery_FieldFilter_GREATER_THAN_OR_EQUAL, root+"/users/"+minID),
					nameFilter(pb.StructuredQuery_FieldFilter_LESS_THAN, root+"/users\x00/"+minID),
				},
			}}}
			var deleted []string
			var after *pb.Cursor
			for page := 0; ; page++ {
				if page > len(tree) {
					t.Fatal("the pages do not end")
				}
				names, err := runRaw(t, raw, root, &pb.StructuredQuery{From: kindless, Select: namesOnly, Where: bounds, OrderBy: byName, StartAt: after, Limit: wrapperspb.Int32(2)})
				if err != nil {
					t.Fatal(err)
				}
				if len(names) == 0 {
					break
				}
				if len(names) > 2 {
					t.Fatalf("page of %d names, limit 2", len(names))
				}
				b := c.Batch()
				for _, n := range names {
					b.Delete(c.Doc(strings.TrimPrefix(n, root+"/")))
				}
				if _, err := b.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				deleted = append(deleted, names...)
				after = &pb.Cursor{Values: []*pb.Value{nameRef(names[len(names)-1])}}
			}
			want := []string{"users/a", "users/a/posts/1", "users/a/posts/1/likes/x", "users/b", "users/b/posts/2"}
			for i := range want {
				want[i] = root + "/" + want[i]
			}
			if !slices.Equal(deleted, want) {
				t.Fatalf("deleted %q, want %q", deleted, want)
			}

			// What is left is everything outside the subtree, found by a kindless query at the root.
			left, err := runRaw(t, raw, root, &pb.StructuredQuery{From: kindless, OrderBy: byName})
			if err != nil {
				t.Fatal(err)
			}
			wantLeft := []string{root + "/other/keep", root + "/other/keep/users/kept", root + "/users\x00x/keep", root + "/usersz/keep"}
			if !slices.Equal(left, wantLeft) {
				t.Fatalf("left %q, want %q", left, wantLeft)
			}

			// The official client agrees: a collection group query still reads only its group.
			docs, err := c.CollectionGroup("users").Documents(ctx).GetAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != 1 || docs[0].Ref.Path != root+"/other/keep/users/kept" {
				t.Fatalf("collection group users = %v, want only other/keep/users/kept", docs)
			}
		})
	}
}

func nameFilter(op pb.StructuredQuery_FieldFilter_Operator, name string) *pb.StructuredQuery_Filter {
	return &pb.StructuredQuery_Filter{FilterType: &pb.StructuredQuery_Filter_FieldFilter{FieldFilter: &pb.StructuredQuery_FieldFilter{
		Field: &pb.StructuredQuery_FieldReference{FieldPath: "__name__"}, Op: op, Value: nameRef(name),
	}}}
}
