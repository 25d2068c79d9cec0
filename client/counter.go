package client

import (
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// namePrefix starts every counter's resource name.
const namePrefix = "counters/"

// Counter is a counter as the server described it.
type Counter struct {
	// Name is the resource name, counters/{ID}.
	Name string
	// ID is the counter ID, the part of Name after counters/.
	ID string
	// Value was read at ReadTime. List without Values leaves it 0.
	Value int64
	// ShardCount is the number of shards increments are spread over.
	ShardCount int
	// AdaptiveShards is on when the server adapts ShardCount to the counter's load.
	AdaptiveShards bool
	// CreateTime is when the counter was created; UpdateTime when its configuration last
	// changed (creation, resize, reset).
	CreateTime, UpdateTime time.Time
	// ReadTime is the moment Value was read at; zero when Value was not read.
	ReadTime time.Time
}

// Result is the outcome of a write.
type Result struct {
	// CommitTime is when the write was committed; for a duplicate, when the original was.
	CommitTime time.Time
	// Duplicate reports that the server had already applied a write with this key, so this call
	// changed nothing. With a fresh key (the default) it is always false: a duplicate can then
	// only be an earlier attempt of the same call, whose answer was lost, and the call applied
	// exactly once. With WithKey it is the server's answer, and may also mean that an earlier
	// attempt of this very call applied it (Attempts > 1).
	Duplicate bool
	// Key is the idempotency key sent, "" with WithoutKey.
	Key string
	// Attempts is how many times the call was sent.
	Attempts int
}

// Delta is one increment of a BatchIncrement.
type Delta struct {
	Name  string
	Delta int64
}

// fullName accepts a counter ID or a full name. IDs contain no "/", so a name that starts with
// counters/ is always a full name; the server validates the rest.
func fullName(name string) string {
	if strings.HasPrefix(name, namePrefix) {
		return name
	}
	return namePrefix + name
}

// int32Of is v in an int32 field: values beyond int32 become its bounds, which the server
// refuses like the value itself, rather than wrapping to a valid one.
func int32Of(v int) int32 {
	return int32(min(max(v, math.MinInt32), math.MaxInt32))
}

func counterFromProto(c *tallyv1.Counter) *Counter {
	if c == nil {
		return nil
	}
	return &Counter{
		Name:           c.GetName(),
		ID:             strings.TrimPrefix(c.GetName(), namePrefix),
		Value:          c.GetValue(),
		ShardCount:     int(c.GetShardCount()),
		AdaptiveShards: c.GetAdaptiveShards(),
		CreateTime:     timeFromProto(c.GetCreateTime()),
		UpdateTime:     timeFromProto(c.GetUpdateTime()),
		ReadTime:       timeFromProto(c.GetReadTime()),
	}
}

// timeFromProto is the zero time for an unset timestamp.
func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
