package service

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Watcher is the part of the core WatchCounter calls. It is not part of Counters, so that the
// unary handlers' mock need not grow a stream: a Counters that is also a Watcher (shard.Counters
// is) serves WatchCounter, any other answers it with UNIMPLEMENTED.
type Watcher interface {
	Watch(ctx context.Context, id string, minInterval time.Duration) (*shard.Watch, error)
}

var _ Watcher = (*shard.Counters)(nil)

// WatchCounter streams a counter's value: the current one, then each change, coalesced by the
// core to at most one update per min_interval, each with the latest value. It ends only when the
// client cancels it, the server shuts down (UNAVAILABLE) or storage fails.
func (s *Server) WatchCounter(req *tallyv1.WatchCounterRequest, stream grpc.ServerStreamingServer[tallyv1.WatchCounterResponse]) error {
	ctx := stream.Context()
	id, interval, err := validateWatch(req)
	if err != nil {
		return toStatus(ctx, s.log, err)
	}
	watcher, ok := s.counters.(Watcher)
	if !ok {
		return status.Error(codes.Unimplemented, "WatchCounter is not served by this server's counter store")
	}
	subject := counterSubject(id)
	w, err := watcher.Watch(ctx, id, interval)
	if errors.Is(err, shard.ErrTooManyWatched) {
		s.onShed(ctx)
		return status.Errorf(codes.ResourceExhausted,
			"%s: this server watches as many counters as it may; retry with backoff, or at another replica", validUTF8(subject))
	}
	if err != nil {
		return toStatus(ctx, s.log, about(subject, err))
	}
	defer w.Close()
	for {
		u, err := w.Next(ctx)
		var resp *tallyv1.WatchCounterResponse
		if err == nil {
			resp, err = watchResponse(u)
		}
		if err != nil {
			return toStatus(ctx, s.log, about(subject, err))
		}
		if err := stream.Send(resp); err != nil {
			return err // the stream is broken; gRPC has its status
		}
	}
}

// watchResponse converts one update; a deleted counter carries only its name and read time.
func watchResponse(u shard.WatchUpdate) (*tallyv1.WatchCounterResponse, error) {
	if u.Counter == nil {
		return nil, errNoCounter
	}
	if u.Deleted {
		if err := checkReplyString("counter id", u.Counter.ID); err != nil {
			return nil, err
		}
		return &tallyv1.WatchCounterResponse{
			Counter: &tallyv1.Counter{Name: resourceName(u.Counter.ID), ReadTime: timestamp(u.Counter.ReadTime)},
			Deleted: true,
		}, nil
	}
	c, err := toProto(u.Counter)
	if err != nil {
		return nil, err
	}
	return &tallyv1.WatchCounterResponse{Counter: c}, nil
}
