package shard

import (
	"time"

	"github.com/tally-dev/tally/internal/ids"
)

// Counter is a counter's configuration and, where read, its value.
type Counter struct {
	ID         string
	Value      int64
	ShardCount int
	CreateTime time.Time // when the counter was created
	UpdateTime time.Time // last change of configuration: creation, resize or reset
	ReadTime   time.Time // the consistent time Value was read at; zero when Value was not read
	// Adaptive says the servers adapt ShardCount to the counter's load (adaptive.go).
	Adaptive bool
}

// Settings are what CreateWith creates a counter with.
type Settings struct {
	Shards   int  // the shard count; 0 for the default
	Adaptive bool // let the servers adapt the shard count to the load
}

// Change is what Update changes in a counter's configuration; nil fields stay as they are.
type Change struct {
	Shards   *int  // resize to this many shards; 0 for the default
	Adaptive *bool // turn adaptive shard counts on or off
}

// WriteResult is the outcome of an increment or reset.
type WriteResult struct {
	CommitTime time.Time
	// Duplicate says the request repeated an earlier one with the same idempotency key: nothing
	// was applied now and CommitTime is the original commit's.
	Duplicate bool
}

// Delta is one increment of a BatchIncrement.
type Delta struct {
	CounterID string
	Delta     int64
}

// ListOptions select a page of ListCounters.
type ListOptions struct {
	Prefix     string // only counter ids starting with this
	PageSize   int    // 1 to MaxPageSize
	PageToken  string // from the previous page; empty for the first
	WithValues bool   // read each counter's value (one aggregation per counter)
}

// Limits the core enforces.
const (
	MaxShards = 1000
	// MaxKeyBytes: an idempotency key may be as long as a counter id. Records are named by the
	// key's hash, so this is the API's choice rather than a Firestore limit.
	MaxKeyBytes     = ids.MaxBytes
	MaxBatchDeltas  = 500
	MaxBatchGet     = 100
	MaxPageSize     = 1000
	DefaultPageSize = 50
)
