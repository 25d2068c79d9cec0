package service

import (
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// errNoCounter reports a core that answered without error but also without a counter; turning it
// into an error keeps a core bug from crashing the server.
var errNoCounter = errors.New("service: the counter store returned a nil counter")

// timestamp converts a core time; the zero time means "not set" and becomes nil.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// toProto converts a core counter. read_time stays unset when the value was not read.
func toProto(c *shard.Counter) (*tallyv1.Counter, error) {
	if c == nil {
		return nil, errNoCounter
	}
	return &tallyv1.Counter{
		Name:       resourceName(c.ID),
		Value:      c.Value,
		ShardCount: int32(c.ShardCount),
		CreateTime: timestamp(c.CreateTime),
		UpdateTime: timestamp(c.UpdateTime),
		ReadTime:   timestamp(c.ReadTime),
	}, nil
}

// toProtos converts a list of core counters, failing on the first nil one.
func toProtos(cs []*shard.Counter) ([]*tallyv1.Counter, error) {
	out := make([]*tallyv1.Counter, len(cs))
	for i, c := range cs {
		pc, err := toProto(c)
		if err != nil {
			return nil, err
		}
		out[i] = pc
	}
	return out, nil
}
