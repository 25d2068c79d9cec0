package server

import (
	"context"
	"crypto/rand"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/txn"
	"github.com/tally-dev/tally/internal/ids"
)

// GetDocument reads one document; NOT_FOUND when it does not exist.
func (s *Server) GetDocument(ctx context.Context, req *pb.GetDocumentRequest) (*pb.Document, error) {
	doc, err := s.getDocument(ctx, req)
	return doc, toStatus(ctx, s.log, err)
}

func (s *Server) getDocument(ctx context.Context, req *pb.GetDocumentRequest) (*pb.Document, error) {
	db, path, err := resource.ParseDocumentName(req.GetName())
	if err != nil {
		return nil, invalid("name", err.Error())
	}
	mask, err := maskOf("mask", req.GetMask())
	if err != nil {
		return nil, err
	}
	var sel txn.Selector
	switch c := req.GetConsistencySelector().(type) {
	case *pb.GetDocumentRequest_Transaction:
		sel.Transaction = c.Transaction
	case *pb.GetDocumentRequest_ReadTime:
		if sel.ReadTime, err = readTimeOf("read_time", c.ReadTime); err != nil {
			return nil, err
		}
	}
	res, err := s.engine.GetDocuments(ctx, db, sel, [][]string{path})
	if err != nil {
		return nil, err
	}
	if res.Versions[0] == nil {
		return nil, notFound("document " + req.GetName() + " not found")
	}
	return document(db, res.Versions[0], mask), nil
}

// BatchGetDocuments streams exactly one found-or-missing answer per distinct requested name, in
// request order.
func (s *Server) BatchGetDocuments(req *pb.BatchGetDocumentsRequest, stream pb.Firestore_BatchGetDocumentsServer) error {
	ctx := stream.Context()
	return toStatus(ctx, s.log, s.batchGetDocuments(ctx, req, stream))
}

func (s *Server) batchGetDocuments(ctx context.Context, req *pb.BatchGetDocumentsRequest, stream pb.Firestore_BatchGetDocumentsServer) error {
	db, err := parseDatabase("database", req.GetDatabase())
	if err != nil {
		return err
	}
	mask, err := maskOf("mask", req.GetMask())
	if err != nil {
		return err
	}
	var names []string
	var paths [][]string
	seen := map[string]bool{}
	for i, name := range req.GetDocuments() {
		path, err := parseDocumentIn(db, indexed("documents", i), name)
		if err != nil {
			return err
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
			paths = append(paths, path)
		}
	}
	sel, err := selectorOf(req.GetConsistencySelector())
	if err != nil {
		return err
	}
	res, err := s.engine.GetDocuments(ctx, db, sel, paths)
	if err != nil {
		return err
	}
	readTime := timestampOf(res.ReadTime)
	pending := res.NewTransaction
	for i, v := range res.Versions {
		resp := &pb.BatchGetDocumentsResponse{ReadTime: readTime, Transaction: pending}
		pending = nil
		if v == nil {
			resp.Result = &pb.BatchGetDocumentsResponse_Missing{Missing: names[i]}
		} else {
			resp.Result = &pb.BatchGetDocumentsResponse_Found{Found: document(db, v, mask)}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	if pending != nil {
		return stream.Send(&pb.BatchGetDocumentsResponse{Transaction: pending, ReadTime: readTime})
	}
	return nil
}

// selectorOf converts BatchGetDocuments' consistency selector.
func selectorOf(c any) (txn.Selector, error) {
	var sel txn.Selector
	var err error
	switch c := c.(type) {
	case *pb.BatchGetDocumentsRequest_Transaction:
		sel.Transaction = c.Transaction
	case *pb.BatchGetDocumentsRequest_NewTransaction:
		sel.NewTransaction, err = txnOptionsOf("new_transaction", c.NewTransaction)
	case *pb.BatchGetDocumentsRequest_ReadTime:
		sel.ReadTime, err = readTimeOf("read_time", c.ReadTime)
	}
	return sel, err
}

// CreateDocument creates a document; ALREADY_EXISTS when it exists. An empty document_id gets a
// random 20-character id, as production assigns.
func (s *Server) CreateDocument(ctx context.Context, req *pb.CreateDocumentRequest) (*pb.Document, error) {
	doc, err := s.createDocument(ctx, req)
	return doc, toStatus(ctx, s.log, err)
}

func (s *Server) createDocument(ctx context.Context, req *pb.CreateDocumentRequest) (*pb.Document, error) {
	db, parent, err := resource.ParseParent(req.GetParent())
	if err != nil {
		return nil, invalid("parent", err.Error())
	}
	if err := ids.Validate(req.GetCollectionId(), "collection"); err != nil {
		return nil, invalid("collection_id", err.Error())
	}
	id := req.GetDocumentId()
	if id == "" {
		id = autoID()
	} else if err := ids.Validate(id, "document"); err != nil {
		return nil, invalid("document_id", err.Error())
	}
	path := append(append(append([]string(nil), parent...), req.GetCollectionId()), id)
	name := db.DocumentName(path)
	w, err := writeOf(db, "document", &pb.Write{
		Operation:       &pb.Write_Update{Update: &pb.Document{Name: name, Fields: req.GetDocument().GetFields()}},
		CurrentDocument: &pb.Precondition{ConditionType: &pb.Precondition_Exists{Exists: false}},
	})
	if err != nil {
		return nil, err
	}
	return s.writeOne(ctx, db, w, req.GetMask())
}

// UpdateDocument updates or inserts a document.
func (s *Server) UpdateDocument(ctx context.Context, req *pb.UpdateDocumentRequest) (*pb.Document, error) {
	doc, err := s.updateDocument(ctx, req)
	return doc, toStatus(ctx, s.log, err)
}

func (s *Server) updateDocument(ctx context.Context, req *pb.UpdateDocumentRequest) (*pb.Document, error) {
	db, _, err := resource.ParseDocumentName(req.GetDocument().GetName())
	if err != nil {
		return nil, invalid("document.name", err.Error())
	}
	w, err := writeOf(db, "document", &pb.Write{
		Operation:       &pb.Write_Update{Update: req.GetDocument()},
		UpdateMask:      req.GetUpdateMask(),
		CurrentDocument: req.GetCurrentDocument(),
	})
	if err != nil {
		return nil, err
	}
	return s.writeOne(ctx, db, w, req.GetMask())
}

// writeOne commits a single update and returns the document as written.
func (s *Server) writeOne(ctx context.Context, db resource.Database, w txn.Write, responseMask *pb.DocumentMask) (*pb.Document, error) {
	mask, err := maskOf("mask", responseMask)
	if err != nil {
		return nil, err
	}
	res, err := s.engine.Commit(ctx, db, nil, []txn.Write{w})
	if err != nil {
		return nil, err
	}
	return document(db, res.Results[0].Document, mask), nil
}

// DeleteDocument deletes a document. Deleting a missing document succeeds unless a precondition
// says otherwise.
func (s *Server) DeleteDocument(ctx context.Context, req *pb.DeleteDocumentRequest) (*emptypb.Empty, error) {
	err := s.deleteDocument(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &emptypb.Empty{}, nil
}

func (s *Server) deleteDocument(ctx context.Context, req *pb.DeleteDocumentRequest) error {
	db, _, err := resource.ParseDocumentName(req.GetName())
	if err != nil {
		return invalid("name", err.Error())
	}
	w, err := writeOf(db, "request", &pb.Write{
		Operation:       &pb.Write_Delete{Delete: req.GetName()},
		CurrentDocument: req.GetCurrentDocument(),
	})
	if err != nil {
		return err
	}
	_, err = s.engine.Commit(ctx, db, nil, []txn.Write{w})
	return err
}

const autoIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// autoID returns a random 20-character document id.
func autoID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = autoIDAlphabet[int(b[i])%len(autoIDAlphabet)]
	}
	return string(b[:])
}
