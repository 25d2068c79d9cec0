package client

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Create creates the counter name with value 0 and the configuration cfg. It is only needed to
// choose the configuration up front, since Increment creates counters on first use. It fails
// with ErrAlreadyExists if the counter exists; a lost answer is not retried, since a second
// attempt could not tell its own counter from another caller's.
func (c *Client) Create(ctx context.Context, name string, cfg CounterConfig) (*Counter, error) {
	req := &tallyv1.CreateCounterRequest{CounterId: fullName(name)[len(namePrefix):]}
	if cfg != (CounterConfig{}) {
		req.Counter = &tallyv1.Counter{ShardCount: int32Of(cfg.ShardCount), AdaptiveShards: cfg.AdaptiveShards}
	}
	var resp *tallyv1.Counter
	_, err := c.do(ctx, unsafe, func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.CreateCounter(ctx, req, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return counterFromProto(resp), nil
}

// CounterUpdate is a change of a counter's configuration; nil fields stay as they are.
type CounterUpdate struct {
	// ShardCount is the new number of shards, 1 to 1,000, or 0 for the server's default.
	ShardCount *int
	// AdaptiveShards turns the server's adaptation of the shard count to the load on or off.
	AdaptiveShards *bool
}

// Update applies u to the counter in one change and returns the counter as it then is. A resize
// keeps the value. Setting a configuration twice is setting it once, so a lost answer is
// retried.
func (c *Client) Update(ctx context.Context, name string, u CounterUpdate) (*Counter, error) {
	ctr := &tallyv1.Counter{Name: fullName(name)}
	var paths []string
	if u.ShardCount != nil {
		ctr.ShardCount = int32Of(*u.ShardCount)
		paths = append(paths, "shard_count")
	}
	if u.AdaptiveShards != nil {
		ctr.AdaptiveShards = *u.AdaptiveShards
		paths = append(paths, "adaptive_shards")
	}
	if len(paths) == 0 {
		// An empty mask would mean shard_count to the server.
		return nil, fmt.Errorf("tally: %w: the update changes nothing", ErrInvalidArgument)
	}
	req := &tallyv1.UpdateCounterRequest{Counter: ctr, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}
	var resp *tallyv1.Counter
	_, err := c.do(ctx, idempotent, func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.UpdateCounter(ctx, req, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return counterFromProto(resp), nil
}

// Resize changes the counter's shard count (0: the server's default), keeping its value.
func (c *Client) Resize(ctx context.Context, name string, shards int) (*Counter, error) {
	return c.Update(ctx, name, CounterUpdate{ShardCount: &shards})
}

// SetAdaptive turns the server's adaptation of the counter's shard count to its load on or off.
func (c *Client) SetAdaptive(ctx context.Context, name string, on bool) (*Counter, error) {
	return c.Update(ctx, name, CounterUpdate{AdaptiveShards: &on})
}

// Delete deletes the counter and its shards; a later Increment starts a new one at 0. It fails
// with ErrNotFound if the counter does not exist. A lost answer is not retried: the retry would
// report ErrNotFound for the counter the first attempt deleted.
func (c *Client) Delete(ctx context.Context, name string) error {
	req := &tallyv1.DeleteCounterRequest{Name: fullName(name)}
	_, err := c.do(ctx, unsafe, func(ctx context.Context, o ...grpc.CallOption) error {
		_, err := c.rpc.DeleteCounter(ctx, req, o...)
		return err
	})
	return err
}
