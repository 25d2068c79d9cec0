package service

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// CreateCounter creates a counter with value 0, the requested shard count and, if asked,
// adaptive shards.
func (s *Server) CreateCounter(ctx context.Context, req *tallyv1.CreateCounterRequest) (*tallyv1.Counter, error) {
	id, set, err := validateCreate(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	c, err := s.counters.CreateWith(ctx, id, set)
	return s.counterReply(ctx, id, c, err)
}

// UpdateCounter changes the fields of a counter's configuration that update_mask names: its shard
// count, whether its shards are adaptive, or both at once.
func (s *Server) UpdateCounter(ctx context.Context, req *tallyv1.UpdateCounterRequest) (*tallyv1.Counter, error) {
	id, ch, err := validateUpdate(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	c, err := s.counters.Update(ctx, id, ch)
	return s.counterReply(ctx, id, c, err)
}

// ResetCounter sets a counter's value back to 0.
func (s *Server) ResetCounter(ctx context.Context, req *tallyv1.ResetCounterRequest) (*tallyv1.ResetCounterResponse, error) {
	id, err := validateReset(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	res, err := s.counters.Reset(ctx, id, req.GetIdempotencyKey())
	if err != nil {
		return nil, toStatus(ctx, s.log, about(counterSubject(id), err))
	}
	return &tallyv1.ResetCounterResponse{CommitTime: timestamp(res.CommitTime), Duplicate: res.Duplicate}, nil
}

// DeleteCounter deletes a counter and its shards.
func (s *Server) DeleteCounter(ctx context.Context, req *tallyv1.DeleteCounterRequest) (*emptypb.Empty, error) {
	id, err := validateDelete(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	if err := s.counters.Delete(ctx, id); err != nil {
		return nil, toStatus(ctx, s.log, about(counterSubject(id), err))
	}
	return &emptypb.Empty{}, nil
}

// counterReply answers an RPC whose response is the one counter it read or changed.
func (s *Server) counterReply(ctx context.Context, id string, c *shard.Counter, err error) (*tallyv1.Counter, error) {
	if err == nil {
		var pc *tallyv1.Counter
		if pc, err = toProto(c); err == nil {
			return pc, nil
		}
	}
	return nil, toStatus(ctx, s.log, about(counterSubject(id), err))
}
