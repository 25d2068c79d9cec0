package client

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Update is one value of a watched counter.
type Update struct {
	// Counter is the counter as of Counter.ReadTime. When Deleted, only Name, ID and ReadTime
	// are set.
	Counter Counter
	// Deleted reports that the counter did not exist at Counter.ReadTime.
	Deleted bool
}

// Watch streams the counter's value: its current value first, then its value after changes,
// coalesced by the server to at most one update per MinInterval (the latest value wins, so a
// slow reader never falls behind). Resets, resizes and deletes arrive too; after a delete the
// watch goes on and reports the counter again if it is created anew.
//
// When the stream breaks (UNAVAILABLE, a lost connection, the server restarting) Watch
// reconnects with the client's backoff, and the server starts the new stream with the current
// value, so a reconnect shows only as an update that may skip intermediate values. Updates only
// move forward in time: a new stream, perhaps to another server whose listeners lag behind, is
// not reported until it reaches past the last update reported (its older ones are dropped). The
// RetryPolicy's MaxAttempts (or WatchRetry's) bounds consecutive failed connections; an update
// received resets the count. Watch ends when the loop stops, or with one final error: ctx's when it ends, ErrNotFound
// when the counter does not exist when the watch starts (or, after a reconnect, when it was
// deleted meanwhile: a Deleted update precedes the error then), or any other failure.
func (c *Client) Watch(ctx context.Context, name string, opts ...WatchOption) iter.Seq2[Update, error] {
	var w watchSettings
	for _, o := range opts {
		o(&w)
	}
	retry := c.retry
	if w.retry != nil {
		retry = *w.retry
	}
	req := &tallyv1.WatchCounterRequest{Name: fullName(name)}
	if w.minInterval != 0 {
		req.MinInterval = durationpb.New(w.minInterval)
	}
	return func(yield func(Update, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // ends the stream when the loop stops early
		var last *Update
		failures := 0
		for {
			err := c.watchOnce(ctx, req, func(u Update) bool {
				failures = 0
				if last != nil && !u.Counter.ReadTime.After(last.Counter.ReadTime) {
					return true // what was reported already, or older
				}
				last = &u
				return yield(u, nil)
			})
			if err == nil {
				return // the loop stopped
			}
			if ctx.Err() != nil {
				yield(Update{}, contextError(ctx, err))
				return
			}
			failures++
			reconnectable := status.Code(err) == codes.Unavailable || status.Code(err) == codes.ResourceExhausted
			if !reconnectable || !retry.allowsAfter(failures) {
				if status.Code(err) == codes.NotFound && last != nil && !last.Deleted {
					// The server does not say when; no earlier than the last update reported.
					gone := Update{Counter: Counter{Name: last.Counter.Name, ID: last.Counter.ID, ReadTime: last.Counter.ReadTime}, Deleted: true}
					if !yield(gone, nil) {
						return
					}
				}
				yield(Update{}, convert(err))
				return
			}
			if w.onReconnect != nil {
				w.onReconnect(convert(err))
			}
			if !wait(ctx, retry.backoff(failures, c.jitter())) {
				yield(Update{}, contextError(ctx, err))
				return
			}
		}
	}
}

// errStreamEnded is a stream the server closed without an error, which WatchCounter never does
// on purpose: reconnect as after UNAVAILABLE.
var errStreamEnded = status.Error(codes.Unavailable, "the server ended the watch stream")

// watchOnce runs one stream, handing each update to deliver, and returns nil once deliver asks
// to stop, else the error that ended the stream.
func (c *Client) watchOnce(ctx context.Context, req *tallyv1.WatchCounterRequest, deliver func(Update) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.WatchCounter(ctx, req)
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return errStreamEnded
		}
		if err != nil {
			return err
		}
		u := Update{Deleted: resp.GetDeleted()}
		if ctr := counterFromProto(resp.GetCounter()); ctr != nil {
			u.Counter = *ctr
		}
		if !deliver(u) {
			return nil
		}
	}
}
