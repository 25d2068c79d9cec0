package shard

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestClassify: Firestore being unreachable makes a write that may have been sent an unknown
// outcome, and a read or a write never sent a plain "unavailable, nothing applied".
func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		err              error
		write, unapplied error
	}{
		{status.Error(codes.Unavailable, "down"), ErrUnknownOutcome, ErrUnavailable},
		{status.Error(codes.DeadlineExceeded, "slow"), ErrUnknownOutcome, ErrUnavailable},
		{status.Error(codes.Aborted, "conflict"), ErrContention, ErrContention},
		{ErrNotFound, ErrNotFound, ErrNotFound},
		{ErrUnknownOutcome, ErrUnknownOutcome, ErrUnknownOutcome},
	} {
		t.Run(tt.err.Error(), func(t *testing.T) {
			if got := classify(tt.err); !errors.Is(got, tt.write) {
				t.Errorf("classify = %v, want %v", got, tt.write)
			}
			if got := classifyUnapplied(tt.err); !errors.Is(got, tt.unapplied) {
				t.Errorf("classifyUnapplied = %v, want %v", got, tt.unapplied)
			}
		})
	}
}
