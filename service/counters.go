package service

import (
	"context"
	"time"

	"github.com/tally-dev/tally/shard"
)

//go:generate bash generate.sh

// Counters is the part of the sharding core the handlers call. Tests replace it with a mock, so
// it holds exactly the methods the service uses and nothing else.
type Counters interface {
	Increment(ctx context.Context, id string, delta int64, key string) (shard.WriteResult, error)
	BatchIncrement(ctx context.Context, deltas []shard.Delta, key string) (shard.WriteResult, error)
	Get(ctx context.Context, id string) (*shard.Counter, error)
	BatchGet(ctx context.Context, ids []string) ([]*shard.Counter, error)
	GetAt(ctx context.Context, id string, at time.Time) (*shard.Counter, error)
	BatchGetAt(ctx context.Context, ids []string, at time.Time) ([]*shard.Counter, error)
	CreateWith(ctx context.Context, id string, set shard.Settings) (*shard.Counter, error)
	Update(ctx context.Context, id string, ch shard.Change) (*shard.Counter, error)
	Reset(ctx context.Context, id string, key string) (shard.WriteResult, error)
	Delete(ctx context.Context, id string) error
	List(ctx context.Context, opts shard.ListOptions) ([]*shard.Counter, string, error)
}

var _ Counters = (*shard.Counters)(nil)
