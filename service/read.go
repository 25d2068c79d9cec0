package service

import (
	"context"
	"fmt"
	"time"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Subjects of error messages about reads of several counters: the core does not say which of
// them failed.
const (
	batchGetSubject = "one of the requested counters"
	listSubject     = "listing counters"
)

// GetCounter reads one counter with its value, now or as of read_time.
func (s *Server) GetCounter(ctx context.Context, req *tallyv1.GetCounterRequest) (*tallyv1.Counter, error) {
	id, at, err := validateGet(req, time.Now())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	var c *shard.Counter
	if at.IsZero() {
		c, err = s.counters.Get(ctx, id)
	} else {
		c, err = s.counters.GetAt(ctx, id, at)
	}
	return s.counterReply(ctx, id, c, err)
}

// BatchGetCounters reads several counters at one read time (now, or read_time), in the order of
// the request.
func (s *Server) BatchGetCounters(ctx context.Context, req *tallyv1.BatchGetCountersRequest) (*tallyv1.BatchGetCountersResponse, error) {
	ids, at, err := validateBatchGet(req, s.maxBatchGet, time.Now())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	var cs []*shard.Counter
	if at.IsZero() {
		cs, err = s.counters.BatchGet(ctx, ids)
	} else {
		cs, err = s.counters.BatchGetAt(ctx, ids, at)
	}
	if err == nil && len(cs) != len(ids) {
		err = fmt.Errorf("service: the counter store returned %d counters for %d names", len(cs), len(ids))
	}
	if err == nil {
		var pcs []*tallyv1.Counter
		if pcs, err = toProtos(cs); err == nil {
			return &tallyv1.BatchGetCountersResponse{Counters: pcs}, nil
		}
	}
	return nil, toStatus(ctx, s.log, about(batchGetSubject, err))
}

// ListCounters returns a page of counters in ascending order of their ids.
func (s *Server) ListCounters(ctx context.Context, req *tallyv1.ListCountersRequest) (*tallyv1.ListCountersResponse, error) {
	opts, err := validateList(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	cs, next, err := s.counters.List(ctx, opts)
	if err != nil {
		return nil, toStatus(ctx, s.log, about(listSubject, err))
	}
	pcs, err := toProtos(cs)
	if err == nil {
		err = checkReplyString("page token", next)
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, about(listSubject, err))
	}
	if !opts.WithValues {
		// The BASIC view promises value 0 and no read_time whatever the core filled in.
		for _, pc := range pcs {
			pc.Value, pc.ReadTime = 0, nil
		}
	}
	return &tallyv1.ListCountersResponse{Counters: pcs, NextPageToken: next}, nil
}
