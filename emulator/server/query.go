package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
)

// RunQuery streams a structured query's results. Inside a read-write transaction the query is
// re-checked at commit, so a concurrent change to its result (a phantom included) aborts the commit.
func (s *Server) RunQuery(req *pb.RunQueryRequest, stream pb.Firestore_RunQueryServer) error {
	ctx := stream.Context()
	return toStatus(ctx, s.log, s.runQuery(ctx, req, stream))
}

func (s *Server) runQuery(ctx context.Context, req *pb.RunQueryRequest, stream pb.Firestore_RunQueryServer) error {
	db, parent, err := parseQueryParent(req.GetParent())
	if err != nil {
		return err
	}
	if req.GetExplainOptions() != nil {
		return invalid("explain_options", "query explain is not supported by this emulator")
	}
	sq := req.GetStructuredQuery()
	if sq == nil {
		return invalid("structured_query", "must be set")
	}
	q, err := query.Compile(db, parent, sq)
	if err != nil {
		return err
	}
	if err := s.checkIndexes(sq, nil); err != nil {
		return err
	}
	sel, err := querySelectorOf(req.GetConsistencySelector())
	if err != nil {
		return err
	}
	snap, err := s.engine.OpenSnapshot(ctx, db, sel)
	if err != nil {
		return err
	}
	readTime := timestampOf(snap.ReadTime())
	newTxn := snap.NewTransaction
	digest := sha256.New()
	err = q.Run(ctx, snap, func(v *storage.Version) error {
		addToDigest(digest, v)
		resp := &pb.RunQueryResponse{Document: document(db, v, nil), ReadTime: readTime, Transaction: newTxn}
		newTxn = nil
		return stream.Send(resp)
	})
	if err != nil {
		return err
	}
	snap.RecordQuery(digest.Sum(nil), func(ctx context.Context, latest *storage.Snapshot) ([]byte, error) {
		d := sha256.New()
		err := q.Run(ctx, latest, func(v *storage.Version) error { addToDigest(d, v); return nil })
		return d.Sum(nil), err
	})
	// The last message says the query is done; it also carries the transaction and read time
	// when there were no results.
	return stream.Send(&pb.RunQueryResponse{ReadTime: readTime, Transaction: newTxn, ContinuationSelector: &pb.RunQueryResponse_Done{Done: true}})
}

// addToDigest folds a result into a digest of (name, update time) pairs: equal digests mean the
// same documents at the same versions.
func addToDigest(d interface{ Write([]byte) (int, error) }, v *storage.Version) {
	for _, seg := range v.Path {
		_, _ = d.Write([]byte(seg))
		_, _ = d.Write([]byte{0})
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(v.UpdateTime))
	_, _ = d.Write(ts[:])
}

// RunAggregationQuery computes count, sum and avg aggregations over a query.
func (s *Server) RunAggregationQuery(req *pb.RunAggregationQueryRequest, stream pb.Firestore_RunAggregationQueryServer) error {
	ctx := stream.Context()
	return toStatus(ctx, s.log, s.runAggregationQuery(ctx, req, stream))
}

func (s *Server) runAggregationQuery(ctx context.Context, req *pb.RunAggregationQueryRequest, stream pb.Firestore_RunAggregationQueryServer) error {
	db, parent, err := parseQueryParent(req.GetParent())
	if err != nil {
		return err
	}
	if req.GetExplainOptions() != nil {
		return invalid("explain_options", "query explain is not supported by this emulator")
	}
	aq := req.GetStructuredAggregationQuery()
	if aq == nil {
		return invalid("structured_aggregation_query", "must be set")
	}
	agg, err := query.CompileAggregation(db, parent, aq)
	if err != nil {
		return err
	}
	if err := s.checkIndexes(aq.GetStructuredQuery(), aq.GetAggregations()); err != nil {
		return err
	}
	var sel txn.Selector
	switch c := req.GetConsistencySelector().(type) {
	case *pb.RunAggregationQueryRequest_Transaction:
		sel.Transaction = c.Transaction
	case *pb.RunAggregationQueryRequest_NewTransaction:
		sel.NewTransaction, err = txnOptionsOf("new_transaction", c.NewTransaction)
	case *pb.RunAggregationQueryRequest_ReadTime:
		sel.ReadTime, err = readTimeOf("read_time", c.ReadTime)
	}
	if err != nil {
		return err
	}
	snap, err := s.engine.OpenSnapshot(ctx, db, sel)
	if err != nil {
		return err
	}
	fields, err := agg.Run(ctx, snap)
	if err != nil {
		return err
	}
	result := &pb.AggregationResult{AggregateFields: fields}
	snap.RecordQuery(aggregationDigest(result), func(ctx context.Context, latest *storage.Snapshot) ([]byte, error) {
		fields, err := agg.Run(ctx, latest)
		return aggregationDigest(&pb.AggregationResult{AggregateFields: fields}), err
	})
	return stream.Send(&pb.RunAggregationQueryResponse{
		Result:      result,
		Transaction: snap.NewTransaction,
		ReadTime:    timestampOf(snap.ReadTime()),
	})
}

func aggregationDigest(r *pb.AggregationResult) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	sum := sha256.Sum256(b)
	return sum[:]
}

func parseQueryParent(name string) (resource.Database, []string, error) {
	db, parent, err := resource.ParseParent(name)
	if err != nil {
		return resource.Database{}, nil, invalid("parent", err.Error())
	}
	return db, parent, nil
}

func querySelectorOf(c any) (txn.Selector, error) {
	var sel txn.Selector
	var err error
	switch c := c.(type) {
	case *pb.RunQueryRequest_Transaction:
		sel.Transaction = c.Transaction
	case *pb.RunQueryRequest_NewTransaction:
		sel.NewTransaction, err = txnOptionsOf("new_transaction", c.NewTransaction)
	case *pb.RunQueryRequest_ReadTime:
		sel.ReadTime, err = readTimeOf("read_time", c.ReadTime)
	}
	return sel, err
}
