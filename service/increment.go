package service

import (
	"context"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// batchIncrementSubject names a batch in error messages: the core does not say which of its
// counters failed.
const batchIncrementSubject = "batch increment"

// Increment adds a delta to one counter, creating it on first use.
func (s *Server) Increment(ctx context.Context, req *tallyv1.IncrementRequest) (*tallyv1.IncrementResponse, error) {
	id, err := validateIncrement(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	res, err := s.counters.Increment(ctx, id, req.GetDelta(), req.GetIdempotencyKey())
	if err != nil {
		return nil, toStatus(ctx, s.log, about(counterSubject(id), err))
	}
	return &tallyv1.IncrementResponse{CommitTime: timestamp(res.CommitTime), Duplicate: res.Duplicate}, nil
}

// BatchIncrement applies several increments in one atomic commit.
func (s *Server) BatchIncrement(ctx context.Context, req *tallyv1.BatchIncrementRequest) (*tallyv1.BatchIncrementResponse, error) {
	deltas, err := validateBatchIncrement(req, s.maxBatchIncrement)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	res, err := s.counters.BatchIncrement(ctx, deltas, req.GetIdempotencyKey())
	if err != nil {
		return nil, toStatus(ctx, s.log, about(batchIncrementSubject, err))
	}
	return &tallyv1.BatchIncrementResponse{CommitTime: timestamp(res.CommitTime), Duplicate: res.Duplicate}, nil
}
