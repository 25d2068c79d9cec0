package service

import (
	"context"
	"errors"
	"time"

	"github.com/tally-dev/tally/shard"
)

// errUnconfigured reports a Server built without Options.Counters.
var errUnconfigured = errors.New("service: Options.Counters is nil")

// unconfigured stands in for a missing Counters so that a misconfigured server answers INTERNAL
// (and logs why) instead of crashing on its first request.
type unconfigured struct{}

var _ Counters = unconfigured{}

func (unconfigured) Increment(context.Context, string, int64, string) (shard.WriteResult, error) {
	return shard.WriteResult{}, errUnconfigured
}

func (unconfigured) BatchIncrement(context.Context, []shard.Delta, string) (shard.WriteResult, error) {
	return shard.WriteResult{}, errUnconfigured
}

func (unconfigured) Get(context.Context, string) (*shard.Counter, error) { return nil, errUnconfigured }

func (unconfigured) BatchGet(context.Context, []string) ([]*shard.Counter, error) {
	return nil, errUnconfigured
}

func (unconfigured) GetAt(context.Context, string, time.Time) (*shard.Counter, error) {
	return nil, errUnconfigured
}

func (unconfigured) BatchGetAt(context.Context, []string, time.Time) ([]*shard.Counter, error) {
	return nil, errUnconfigured
}

func (unconfigured) CreateWith(context.Context, string, shard.Settings) (*shard.Counter, error) {
	return nil, errUnconfigured
}

func (unconfigured) Update(context.Context, string, shard.Change) (*shard.Counter, error) {
	return nil, errUnconfigured
}

func (unconfigured) Reset(context.Context, string, string) (shard.WriteResult, error) {
	return shard.WriteResult{}, errUnconfigured
}

func (unconfigured) Delete(context.Context, string) error { return errUnconfigured }

func (unconfigured) List(context.Context, shard.ListOptions) ([]*shard.Counter, string, error) {
	return nil, "", errUnconfigured
}
