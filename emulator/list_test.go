package emulator_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestListingPagesThrough pages through ListDocuments (with a field mask) and
// ListCollectionIds two at a time and checks every item comes exactly once, in order.
func TestListingPagesThrough(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	c := clientFor(t, emu, project, "")
	ctx := context.Background()
	var wantDocs, wantColls []string
	for i := range 7 {
		id := fmt.Sprintf("d%d", i)
		if _, err := c.Doc("pages/"+id).Set(ctx, map[string]any{"keep": i, "drop": "x"}); err != nil {
			t.Fatal(err)
		}
		wantDocs = append(wantDocs, id)
		coll := fmt.Sprintf("c%d", i)
		if _, err := c.Doc(coll+"/x").Set(ctx, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		wantColls = append(wantColls, coll)
	}
	wantColls = append(wantColls, "pages")
	slices.Sort(wantColls)

	conn, err := grpc.NewClient(emu.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	em := pb.NewFirestoreClient(conn)
	root := "projects/test-project/databases/(default)/documents"
	var gotDocs []string
	token := ""
	for {
		resp, err := em.ListDocuments(ctx, &pb.ListDocumentsRequest{Parent: root, CollectionId: "pages", PageSize: 2, PageToken: token,
			Mask: &pb.DocumentMask{FieldPaths: []string{"keep"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetDocuments()) > 2 {
			t.Fatalf("page of %d documents, asked for 2", len(resp.GetDocuments()))
		}
		for _, d := range resp.GetDocuments() {
			if _, dropped := d.GetFields()["drop"]; dropped || d.GetFields()["keep"] == nil {
				t.Fatalf("mask not applied: %v", d.GetFields())
			}
			gotDocs = append(gotDocs, d.GetName()[len(root+"/pages/"):])
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(gotDocs, wantDocs) {
		t.Fatalf("paged documents %v, want %v", gotDocs, wantDocs)
	}

	var gotColls []string
	token = ""
	for {
		resp, err := em.ListCollectionIds(ctx, &pb.ListCollectionIdsRequest{Parent: root, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		gotColls = append(gotColls, resp.GetCollectionIds()...)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(gotColls, wantColls) {
		t.Fatalf("paged collections %v, want %v", gotColls, wantColls)
	}

	_, err = em.ListDocuments(ctx, &pb.ListDocumentsRequest{Parent: root, CollectionId: "pages", PageToken: "not a token!"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad page token: %v, want InvalidArgument", err)
	}
}
