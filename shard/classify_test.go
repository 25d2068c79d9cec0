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
		// A transaction Firestore no longer knows applied nothing and may be tried again, as
		// production words it and as the emulator does after a restart.
		{status.Error(codes.InvalidArgument, "The referenced transaction has expired or is no longer valid."), ErrUnavailable, ErrUnavailable},
		{status.Error(codes.InvalidArgument, "the referenced transaction has expired or is no longer valid"), ErrUnavailable, ErrUnavailable},
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

// TestTransactionExpiredIsNotTooLarge: of Firestore's INVALID_ARGUMENT answers to a commit, only
// the expired transaction is worth retrying; a commit too large ("Transaction too big") is not.
func TestTransactionExpiredIsNotTooLarge(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.InvalidArgument, "The referenced transaction has expired or is no longer valid."), true},
		{status.Error(codes.InvalidArgument, "Transaction too big. Decrease transaction size."), false},
		{status.Error(codes.InvalidArgument, "request payload size exceeds the limit"), false},
		{status.Error(codes.FailedPrecondition, "the referenced transaction has expired or is no longer valid"), false},
		{errors.New("the referenced transaction has expired or is no longer valid"), false},
	} {
		if got := transactionExpired(tt.err); got != tt.want {
			t.Errorf("transactionExpired(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
