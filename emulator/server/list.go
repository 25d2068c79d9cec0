package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"iter"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
	"github.com/tally-dev/tally/internal/ids"
)

// Page sizes when the client leaves them open, and their ceiling.
const (
	defaultPageSize = 300
	maxPageSize     = 10_000
)

// ListDocuments lists a collection's documents (or, without collection_id, those of every
// collection directly under parent) in name order, one page at a time.
func (s *Server) ListDocuments(ctx context.Context, req *pb.ListDocumentsRequest) (*pb.ListDocumentsResponse, error) {
	resp, err := s.listDocuments(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

func (s *Server) listDocuments(ctx context.Context, req *pb.ListDocumentsRequest) (*pb.ListDocumentsResponse, error) {
	db, parent, err := resource.ParseParent(req.GetParent())
	if err != nil {
		return nil, invalid("parent", err.Error())
	}
	if id := req.GetCollectionId(); id != "" {
		if err := ids.Validate(id, "collection"); err != nil {
			return nil, invalid("collection_id", err.Error())
		}
	}
	if ob := strings.TrimSpace(req.GetOrderBy()); ob != "" && ob != "__name__" && ob != "__name__ asc" {
		return nil, invalid("order_by", "only __name__ ascending is supported by this emulator; use RunQuery to order by fields")
	}
	pageSize, err := pageSizeOf(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	mask, err := maskOf("mask", req.GetMask())
	if err != nil {
		return nil, err
	}
	var after []string
	if tok := req.GetPageToken(); tok != "" {
		name, err := decodePageToken(tok)
		if err != nil {
			return nil, err
		}
		d, path, err := resource.ParseDocumentName(name)
		if err != nil || d != db || !isUnder(parent, path) {
			return nil, invalid("page_token", "does not belong to this listing")
		}
		after = path
	}
	var sel txn.Selector
	switch c := req.GetConsistencySelector().(type) {
	case *pb.ListDocumentsRequest_Transaction:
		sel.Transaction = c.Transaction
	case *pb.ListDocumentsRequest_ReadTime:
		if sel.ReadTime, err = readTimeOf("read_time", c.ReadTime); err != nil {
			return nil, err
		}
	}
	snap, err := s.engine.OpenSnapshot(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListDocumentsResponse{}
	var last *storage.Version
	for v, err := range listing(snap, parent, req.GetCollectionId(), req.GetShowMissing(), after) {
		if err != nil {
			return nil, err
		}
		if len(resp.Documents) == pageSize {
			resp.NextPageToken = encodePageToken(db.DocumentName(last.Path))
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		last = v
		if v.Deleted {
			resp.Documents = append(resp.Documents, &pb.Document{Name: db.DocumentName(v.Path)})
		} else {
			resp.Documents = append(resp.Documents, document(db, v, mask))
		}
	}
	return resp, nil
}

// listing yields the documents of one collection, or of every collection under parent in name
// order, starting after the document path after.
func listing(snap *txn.Snapshot, parent []string, collectionID string, showMissing bool, after []string) iter.Seq2[*storage.Version, error] {
	docs := func(coll string, after []string) iter.Seq2[*storage.Version, error] {
		if showMissing {
			return snap.DocumentsShowMissing(parent, coll, after)
		}
		return snap.Documents(parent, coll, false, after)
	}
	if collectionID != "" {
		return docs(collectionID, after)
	}
	return func(yield func(*storage.Version, error) bool) {
		startColl := ""
		if after != nil {
			startColl = after[len(parent)]
		}
		// Collections come in byte order, which is also the order of their documents' names.
		for coll, err := range snap.CollectionIDs(parent, "") {
			if err != nil {
				yield(nil, err)
				return
			}
			if coll < startColl {
				continue
			}
			var from []string
			if coll == startColl {
				from = after
			}
			for v, err := range docs(coll, from) {
				if !yield(v, err) || err != nil {
					return
				}
			}
		}
	}
}

// isUnder reports whether path is a document in a collection directly under parent.
func isUnder(parent, path []string) bool {
	if len(path) != len(parent)+2 {
		return false
	}
	for i := range parent {
		if parent[i] != path[i] {
			return false
		}
	}
	return true
}

// ListCollectionIds lists the ids of collections directly under parent that hold documents.
func (s *Server) ListCollectionIds(ctx context.Context, req *pb.ListCollectionIdsRequest) (*pb.ListCollectionIdsResponse, error) {
	resp, err := s.listCollectionIDs(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

func (s *Server) listCollectionIDs(ctx context.Context, req *pb.ListCollectionIdsRequest) (*pb.ListCollectionIdsResponse, error) {
	db, parent, err := resource.ParseParent(req.GetParent())
	if err != nil {
		return nil, invalid("parent", err.Error())
	}
	pageSize, err := pageSizeOf(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after := ""
	if tok := req.GetPageToken(); tok != "" {
		if after, err = decodePageToken(tok); err != nil {
			return nil, err
		}
	}
	var sel txn.Selector
	if rt, ok := req.GetConsistencySelector().(*pb.ListCollectionIdsRequest_ReadTime); ok {
		if sel.ReadTime, err = readTimeOf("read_time", rt.ReadTime); err != nil {
			return nil, err
		}
	}
	snap, err := s.engine.OpenSnapshot(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListCollectionIdsResponse{}
	for id, err := range snap.CollectionIDs(parent, after) {
		if err != nil {
			return nil, err
		}
		if len(resp.CollectionIds) == pageSize {
			resp.NextPageToken = encodePageToken(resp.CollectionIds[pageSize-1])
			break
		}
		resp.CollectionIds = append(resp.CollectionIds, id)
	}
	return resp, nil
}

func pageSizeOf(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size", "must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

// Page tokens are opaque to clients; they carry where the previous page stopped.
func encodePageToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodePageToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", invalid("page_token", fmt.Sprintf("%q is not a page token returned by this server", tok))
	}
	return string(b), nil
}
