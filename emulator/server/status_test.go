package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/txn"
)

func TestToStatus(t *testing.T) {
	kindErr := func(k txn.Kind) error { return &txn.Error{Kind: k, Msg: "engine says no"} }
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"invalid argument", kindErr(txn.KindInvalidArgument), codes.InvalidArgument},
		{"not found", kindErr(txn.KindNotFound), codes.NotFound},
		{"already exists", kindErr(txn.KindAlreadyExists), codes.AlreadyExists},
		{"failed precondition", kindErr(txn.KindFailedPrecondition), codes.FailedPrecondition},
		{"aborted", kindErr(txn.KindAborted), codes.Aborted},
		{"internal", kindErr(txn.KindInternal), codes.Internal},
		{"wrapped aborted", fmt.Errorf("committing: %w", kindErr(txn.KindAborted)), codes.Aborted},
		{"unknown kind", kindErr(txn.Kind(99)), codes.Internal},
		{"field error", invalid("writes[0]", "bad"), codes.InvalidArgument},
		{"invalid query", fmt.Errorf("%w: no such field", query.ErrInvalid), codes.InvalidArgument},
		{"cancelled", context.Canceled, codes.Canceled},
		{"deadline", fmt.Errorf("waiting: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"status passes through", notFound("gone"), codes.NotFound},
		{"plain error", errors.New("disk on fire"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := toStatus(context.Background(), slog.New(slog.DiscardHandler), tt.err)
			if got := status.Code(err); got != tt.want {
				t.Errorf("toStatus(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if _, ok := status.FromError(err); !ok {
				t.Errorf("toStatus(%v) = %v, not a status", tt.err, err)
			}
		})
	}
}

// TestToStatusNeverRetryable: the official client retries Commit on UNAVAILABLE and
// RESOURCE_EXHAUSTED, which would apply a commit twice, so no engine error may map to them.
func TestToStatusNeverRetryable(t *testing.T) {
	for k := txn.Kind(0); k <= txn.KindInternal+10; k++ {
		for i, err := range []error{
			&txn.Error{Kind: k, Msg: "m"},
			fmt.Errorf("wrapped: %w", &txn.Error{Kind: k, Msg: "m"}),
			errors.Join(context.Canceled, &txn.Error{Kind: k, Msg: "m"}),
		} {
			t.Run(fmt.Sprintf("kind %d form %d", k, i), func(t *testing.T) {
				got := status.Code(toStatus(context.Background(), slog.New(slog.DiscardHandler), err))
				if got == codes.Unavailable || got == codes.ResourceExhausted || got == codes.OK {
					t.Errorf("%v (kind %d) maps to %v", err, k, got)
				}
			})
		}
	}
}
