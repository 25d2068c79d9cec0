package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/watch"
)

// Listen serves realtime listeners: the client adds and removes targets, and is sent their
// documents and every later change (see package watch).
func (s *Server) Listen(stream pb.Firestore_ListenServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	db, err := parseDatabase("database", first.GetDatabase())
	if err != nil {
		return toStatus(ctx, s.log, err)
	}
	reqs := make(chan watch.Request)
	go s.receiveListen(ctx, stream, db, first, reqs)
	err = s.watch.Serve(ctx, db, reqs, stream.Send)
	if _, ok := status.FromError(err); ok && err != nil {
		return err // the stream's own statuses, UNAVAILABLE among them, which clients retry
	}
	return toStatus(ctx, s.log, err)
}

// receiveListen turns the client's requests into watch requests until the client stops sending
// or the call ends. A malformed request ends the stream.
func (s *Server) receiveListen(ctx context.Context, stream pb.Firestore_ListenServer, db resource.Database, req *pb.ListenRequest, out chan<- watch.Request) {
	defer close(out)
	for {
		r := s.listenRequest(ctx, db, req)
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		if r.Err != nil {
			return
		}
		var err error
		if req, err = stream.Recv(); err != nil {
			return
		}
	}
}

func (s *Server) listenRequest(ctx context.Context, db resource.Database, req *pb.ListenRequest) watch.Request {
	if req.GetDatabase() != db.Name() {
		return watch.Request{Err: toStatus(ctx, s.log, invalid("database", fmt.Sprintf("must stay %q on one stream, got %q", db.Name(), req.GetDatabase())))}
	}
	switch tc := req.GetTargetChange().(type) {
	case *pb.ListenRequest_AddTarget:
		t, err := s.listenTarget(db, tc.AddTarget)
		if err != nil {
			cause := status.Convert(toStatus(ctx, s.log, err)).Proto()
			return watch.Request{Reject: &watch.Reject{ID: tc.AddTarget.GetTargetId(), Cause: cause}}
		}
		return watch.Request{Add: t}
	case *pb.ListenRequest_RemoveTarget:
		return watch.Request{Remove: tc.RemoveTarget}
	default:
		return watch.Request{Err: status.Error(codes.InvalidArgument, "a ListenRequest must add or remove a target")}
	}
}

// listenTarget validates a target and compiles its query.
func (s *Server) listenTarget(db resource.Database, t *pb.Target) (*watch.Target, error) {
	if t.GetTargetId() < 0 {
		return nil, invalid("add_target.target_id", fmt.Sprintf("must not be negative, got %d", t.GetTargetId()))
	}
	out := &watch.Target{ID: t.GetTargetId(), Once: t.GetOnce()}
	switch r := t.GetResumeType().(type) {
	case *pb.Target_ResumeToken:
		out.ResumeToken = r.ResumeToken
	case *pb.Target_ReadTime:
		rt, err := readTimeOf("add_target.read_time", r.ReadTime)
		if err != nil {
			return nil, err
		}
		out.ReadTime = rt
	}
	switch tt := t.GetTargetType().(type) {
	case *pb.Target_Documents:
		names := tt.Documents.GetDocuments()
		if len(names) == 0 {
			return nil, invalid("add_target.documents.documents", "must name at least one document")
		}
		for i, name := range names {
			path, err := parseDocumentIn(db, indexed("add_target.documents.documents", i), name)
			if err != nil {
				return nil, err
			}
			out.Documents = append(out.Documents, path)
		}
	case *pb.Target_Query:
		d, parent, err := resource.ParseParent(tt.Query.GetParent())
		if err != nil {
			return nil, invalid("add_target.query.parent", err.Error())
		}
		if d != db {
			return nil, invalid("add_target.query.parent", fmt.Sprintf("%q is not in database %q", tt.Query.GetParent(), db.Name()))
		}
		sq := tt.Query.GetStructuredQuery()
		if sq == nil {
			return nil, invalid("add_target.query.structured_query", "must be set")
		}
		if out.Query, err = query.Compile(db, parent, sq); err != nil {
			return nil, err
		}
		if err := s.checkIndexes(sq, nil); err != nil {
			return nil, err
		}
	default:
		return nil, invalid("add_target", "must have documents or a query")
	}
	return out, nil
}
