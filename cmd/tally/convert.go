package main

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/client"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// The commands print API messages, so that --json shows the API's field
// names; these turn the client's results back into them.

func counterProto(c *client.Counter) *tallyv1.Counter {
	return &tallyv1.Counter{
		Name:           c.Name,
		Value:          c.Value,
		ShardCount:     int32(c.ShardCount),
		CreateTime:     timestampProto(c.CreateTime),
		UpdateTime:     timestampProto(c.UpdateTime),
		ReadTime:       timestampProto(c.ReadTime),
		AdaptiveShards: c.AdaptiveShards,
	}
}

// writeProto is a write's outcome in the shape IncrementResponse,
// BatchIncrementResponse and ResetCounterResponse share.
func writeProto(r client.Result) *tallyv1.IncrementResponse {
	return &tallyv1.IncrementResponse{CommitTime: timestampProto(r.CommitTime), Duplicate: r.Duplicate}
}

func updateProto(u client.Update) *tallyv1.WatchCounterResponse {
	resp := &tallyv1.WatchCounterResponse{Counter: counterProto(&u.Counter), Deleted: u.Deleted}
	if u.Deleted {
		resp.Counter = &tallyv1.Counter{Name: u.Counter.Name, ReadTime: timestampProto(u.Counter.ReadTime)}
	}
	return resp
}

func timestampProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
