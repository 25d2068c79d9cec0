package server

import (
	"context"
	"fmt"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/txn"
)

// Commit applies writes atomically, optionally committing a transaction.
func (s *Server) Commit(ctx context.Context, req *pb.CommitRequest) (*pb.CommitResponse, error) {
	resp, err := s.commit(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

func (s *Server) commit(ctx context.Context, req *pb.CommitRequest) (*pb.CommitResponse, error) {
	db, writes, err := requestWrites(req, req.GetDatabase(), req.GetWrites())
	if err != nil {
		if len(req.GetTransaction()) > 0 && db != (resource.Database{}) {
			_ = s.engine.Rollback(db, req.GetTransaction())
		}
		return nil, err
	}
	res, err := s.engine.Commit(ctx, db, req.GetTransaction(), writes)
	if err != nil {
		return nil, err
	}
	return &pb.CommitResponse{WriteResults: writeResults(res.Results), CommitTime: timestampOf(res.CommitTime)}, nil
}

// requestWrites validates what Commit and BatchWrite have in common: the request's size, its
// database and its writes. db is set whenever the database name was valid.
func requestWrites(req proto.Message, database string, in []*pb.Write) (db resource.Database, writes []txn.Write, err error) {
	if err := checkRequestSize(req); err != nil {
		return db, nil, err
	}
	if db, err = parseDatabase("database", database); err != nil {
		return db, nil, err
	}
	writes, err = writesOf(db, "writes", in)
	return db, writes, err
}

func writeResults(results []txn.WriteResult) []*pb.WriteResult {
	out := make([]*pb.WriteResult, len(results))
	for i, r := range results {
		out[i] = &pb.WriteResult{UpdateTime: timestampOf(r.UpdateTime), TransformResults: r.TransformResults}
	}
	return out
}

// BatchWrite applies writes independently. A malformed request fails as a whole; a write whose
// precondition fails gets its own status, and write_results and status always have one entry per
// write.
func (s *Server) BatchWrite(ctx context.Context, req *pb.BatchWriteRequest) (*pb.BatchWriteResponse, error) {
	resp, err := s.batchWrite(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

func (s *Server) batchWrite(ctx context.Context, req *pb.BatchWriteRequest) (*pb.BatchWriteResponse, error) {
	db, writes, err := requestWrites(req, req.GetDatabase(), req.GetWrites())
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, w := range writes {
		name := db.DocumentName(w.Path)
		if j, dup := seen[name]; dup {
			return nil, invalid(indexed("writes", i), fmt.Sprintf("writes %d and %d both write %s; BatchWrite allows one write per document", j, i, name))
		}
		seen[name] = i
	}
	res, errs, err := s.engine.BatchWrite(ctx, db, writes)
	if err != nil {
		return nil, err
	}
	resp := &pb.BatchWriteResponse{WriteResults: writeResults(res.Results), Status: make([]*statuspb.Status, len(writes))}
	for i, werr := range errs {
		if werr == nil {
			resp.Status[i] = &statuspb.Status{Code: int32(codes.OK)}
			continue
		}
		resp.WriteResults[i] = &pb.WriteResult{}
		st, _ := status.FromError(toStatus(ctx, s.log, werr))
		resp.Status[i] = st.Proto()
	}
	return resp, nil
}

// BeginTransaction starts a read-write or read-only transaction.
func (s *Server) BeginTransaction(ctx context.Context, req *pb.BeginTransactionRequest) (*pb.BeginTransactionResponse, error) {
	resp, err := s.beginTransaction(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

func (s *Server) beginTransaction(ctx context.Context, req *pb.BeginTransactionRequest) (*pb.BeginTransactionResponse, error) {
	db, err := parseDatabase("database", req.GetDatabase())
	if err != nil {
		return nil, err
	}
	opts, err := txnOptionsOf("options", req.GetOptions())
	if err != nil {
		return nil, err
	}
	id, err := s.engine.Begin(ctx, db, *opts)
	if err != nil {
		return nil, err
	}
	return &pb.BeginTransactionResponse{Transaction: id}, nil
}

func txnOptionsOf(field string, o *pb.TransactionOptions) (*txn.TxnOptions, error) {
	opts := &txn.TxnOptions{}
	switch m := o.GetMode().(type) {
	case *pb.TransactionOptions_ReadOnly_:
		opts.ReadOnly = true
		if rt := m.ReadOnly.GetReadTime(); rt != nil {
			var err error
			if opts.ReadTime, err = readTimeOf(field+".read_only.read_time", rt); err != nil {
				return nil, err
			}
		}
	case *pb.TransactionOptions_ReadWrite_:
		opts.RetryOf = m.ReadWrite.GetRetryTransaction()
	}
	return opts, nil
}

// Rollback ends a transaction without writing.
func (s *Server) Rollback(ctx context.Context, req *pb.RollbackRequest) (*emptypb.Empty, error) {
	db, err := parseDatabase("database", req.GetDatabase())
	if err == nil && len(req.GetTransaction()) == 0 {
		err = invalid("transaction", "must be set")
	}
	if err == nil {
		err = s.engine.Rollback(db, req.GetTransaction())
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &emptypb.Empty{}, nil
}
