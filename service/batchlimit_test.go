package service

import (
	"log/slog"
	"testing"

	"go.uber.org/mock/gomock"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// TestMaxBatchNamesLowersTheAPIMaximums checks Options.MaxBatchNames: a batch of exactly the
// applying limit reaches Counters, one more name is INVALID_ARGUMENT naming the list, and a limit
// above the API's maximum (or none) leaves the API's.
func TestMaxBatchNamesLowersTheAPIMaximums(t *testing.T) {
	tests := []struct {
		name              string
		maxBatchNames     int
		increments, names int // the limits that apply
	}{
		{name: "unset: the API maximums", maxBatchNames: 0, increments: shard.MaxBatchDeltas, names: shard.MaxBatchGet},
		{name: "negative: the API maximums", maxBatchNames: -1, increments: shard.MaxBatchDeltas, names: shard.MaxBatchGet},
		{name: "below both", maxBatchNames: 3, increments: 3, names: 3},
		{name: "between the two", maxBatchNames: 250, increments: 250, names: shard.MaxBatchGet},
		{name: "above both", maxBatchNames: 1000, increments: shard.MaxBatchDeltas, names: shard.MaxBatchGet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counters := NewMockCounters(gomock.NewController(t))
			srv := New(Options{Counters: counters, Logger: slog.New(slog.DiscardHandler), MaxBatchNames: tt.maxBatchNames})
			c := serve(t, srv)
			ctx := testContext(t)

			counters.EXPECT().BatchIncrement(gomock.Any(), deltas(tt.increments), "").Return(shard.WriteResult{CommitTime: commitTime}, nil)
			if _, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: incrementRequests(tt.increments)}); err != nil {
				t.Errorf("BatchIncrement of %d increments: %v", tt.increments, err)
			}
			_, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: incrementRequests(tt.increments + 1)})
			wantFieldViolation(t, err, "requests")

			counters.EXPECT().BatchGet(gomock.Any(), ids(tt.names)).Return(fullCounters(tt.names), nil)
			if _, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: names(tt.names)}); err != nil {
				t.Errorf("BatchGetCounters of %d names: %v", tt.names, err)
			}
			_, err = c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: names(tt.names + 1)})
			wantFieldViolation(t, err, "names")
		})
	}
}
