package client

import (
	"context"
	"crypto/rand"
	"time"

	"google.golang.org/grpc"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Increment adds delta to the counter name (an ID or counters/ID), creating it on first use.
//
// Every call carries an idempotency key, a fresh random one unless WithKey gives one, and every
// attempt of the call sends the same key: when an answer is lost (UNAVAILABLE, a broken
// connection) the call is sent again and the server applies it at most once, so the increment
// counts exactly once. Retries follow the client's RetryPolicy under ctx; a canceled ctx stops
// them. WithoutKey turns keys off (see there).
func (c *Client) Increment(ctx context.Context, name string, delta int64, opts ...WriteOption) (Result, error) {
	w := writeSettingsOf(opts)
	req := &tallyv1.IncrementRequest{Name: fullName(name), Delta: delta, IdempotencyKey: w.key}
	var resp *tallyv1.IncrementResponse
	n, err := c.do(ctx, w.outcome(), func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.Increment(ctx, req, o...)
		return err
	})
	if err != nil {
		return Result{Key: w.key, Attempts: n}, err
	}
	return w.result(resp.GetCommitTime().AsTime(), resp.GetDuplicate(), n), nil
}

// BatchIncrement applies deltas, 1 to 500 of them, in one atomic commit: all or none. The key
// rules of Increment apply to the batch as a whole; a key covers the set of counters named.
func (c *Client) BatchIncrement(ctx context.Context, deltas []Delta, opts ...WriteOption) (Result, error) {
	w := writeSettingsOf(opts)
	req := &tallyv1.BatchIncrementRequest{IdempotencyKey: w.key, Requests: make([]*tallyv1.IncrementRequest, len(deltas))}
	for i, d := range deltas {
		req.Requests[i] = &tallyv1.IncrementRequest{Name: fullName(d.Name), Delta: d.Delta}
	}
	var resp *tallyv1.BatchIncrementResponse
	n, err := c.do(ctx, w.outcome(), func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.BatchIncrement(ctx, req, o...)
		return err
	})
	if err != nil {
		return Result{Key: w.key, Attempts: n}, err
	}
	return w.result(resp.GetCommitTime().AsTime(), resp.GetDuplicate(), n), nil
}

// Reset sets the counter's value back to 0. Like Increment it carries a fresh key by default, so
// that a retried reset cannot wipe increments made after the first attempt applied.
func (c *Client) Reset(ctx context.Context, name string, opts ...WriteOption) (Result, error) {
	w := writeSettingsOf(opts)
	req := &tallyv1.ResetCounterRequest{Name: fullName(name), IdempotencyKey: w.key}
	var resp *tallyv1.ResetCounterResponse
	n, err := c.do(ctx, w.outcome(), func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.ResetCounter(ctx, req, o...)
		return err
	})
	if err != nil {
		return Result{Key: w.key, Attempts: n}, err
	}
	return w.result(resp.GetCommitTime().AsTime(), resp.GetDuplicate(), n), nil
}

// writeSettingsOf applies opts and draws a fresh key unless they chose one or none.
func writeSettingsOf(opts []WriteOption) writeSettings {
	var w writeSettings
	for _, o := range opts {
		o(&w)
	}
	w.own = w.key != ""
	if !w.own && !w.noKey {
		w.key = newKey()
	}
	return w
}

// outcome is idempotent when the call carries a key.
func (w writeSettings) outcome() outcome {
	if w.key == "" {
		return unsafe
	}
	return idempotent
}

func (w writeSettings) result(commit time.Time, duplicate bool, attempts int) Result {
	// A fresh key was never used before this call, so a duplicate is an earlier attempt of it.
	return Result{CommitTime: commit, Duplicate: duplicate && w.own, Key: w.key, Attempts: attempts}
}

// newKey returns a random idempotency key: 26 characters, 130 random bits.
func newKey() string { return rand.Text() }
