package service

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

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
	if err := checkReplyString("counter id", c.ID); err != nil {
		return nil, err
	}
	return &tallyv1.Counter{
		Name:       resourceName(c.ID),
		Value:      c.Value,
		ShardCount: int32(c.ShardCount),
		CreateTime: timestamp(c.CreateTime),
		UpdateTime: timestamp(c.UpdateTime),
		ReadTime:   timestamp(c.ReadTime),
		// AdaptiveShards is part of the configuration: set in every view.
		AdaptiveShards: c.Adaptive,
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

// checkReplyString refuses to send a string that is not valid UTF-8. counter.proto turns off
// protobuf's own check (utf8_validation = NONE, so that requests reach validation), but clients
// built from an earlier, proto3 copy of the API still check, and would fail to decode the whole
// reply. The core returns only ids and page tokens that it validated or made, so a failure here
// is a fault of the server, answered with INTERNAL and logged.
func checkReplyString(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("service: the counter store returned a %s that is not valid UTF-8: %q", what, s)
	}
	return nil
}
