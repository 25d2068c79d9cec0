package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		sent bool
		// want for an idempotent call and for an unsafe one
		wantIdempotent, wantUnsafe bool
	}{
		{"unavailable after sending", status.Error(codes.Unavailable, "commit outcome unknown"), true, true, false},
		{"unavailable before sending", status.Error(codes.Unavailable, "connection refused"), false, true, true},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "shed"), true, true, true},
		{"aborted", status.Error(codes.Aborted, "contention"), true, true, true},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, "slow"), true, false, false},
		{"canceled", status.Error(codes.Canceled, "canceled"), true, false, false},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad name"), true, false, false},
		{"not found", status.Error(codes.NotFound, "no counter"), true, false, false},
		{"failed precondition", status.Error(codes.FailedPrecondition, "key reused"), true, false, false},
		{"out of range", status.Error(codes.OutOfRange, "overflow"), true, false, false},
		{"internal", status.Error(codes.Internal, "fault"), true, false, false},
		{"unauthenticated", status.Error(codes.Unauthenticated, "no token"), false, false, false},
		{"permission denied", status.Error(codes.PermissionDenied, "not yours"), true, false, false},
		{"unknown", status.Error(codes.Unknown, "?"), true, false, false},
		{"wrapped unavailable", fmt.Errorf("dialing: %w", status.Error(codes.Unavailable, "refused")), false, true, true},
		{"not a status", errors.New("plain"), false, false, false},
		{"context canceled", context.Canceled, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.err, tc.sent, idempotent); got != tc.wantIdempotent {
				t.Errorf("retryable(idempotent) = %v, want %v", got, tc.wantIdempotent)
			}
			if got := retryable(tc.err, tc.sent, unsafe); got != tc.wantUnsafe {
				t.Errorf("retryable(unsafe) = %v, want %v", got, tc.wantUnsafe)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2}
	tests := []struct {
		attempt int
		// the wait lies in [lo, hi] for r from 0 up to (not including) 1
		lo, hi time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second}, // capped
		{60, 500 * time.Millisecond, time.Second},
		{5000, 500 * time.Millisecond, time.Second}, // Multiplier^n overflows to +Inf
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("attempt ", tc.attempt), func(t *testing.T) {
			if got := p.backoff(tc.attempt, 0); got != tc.lo {
				t.Errorf("backoff(%d, 0) = %v, want %v", tc.attempt, got, tc.lo)
			}
			for _, r := range []float64{0.25, 0.5, 0.999999} {
				if got := p.backoff(tc.attempt, r); got < tc.lo || got > tc.hi {
					t.Errorf("backoff(%d, %v) = %v, want within [%v, %v]", tc.attempt, r, got, tc.lo, tc.hi)
				}
			}
			if got := p.backoff(tc.attempt, 0.999999); got < tc.hi-tc.hi/1000 {
				t.Errorf("backoff(%d, ~1) = %v, want about %v", tc.attempt, got, tc.hi)
			}
		})
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   RetryPolicy
		want RetryPolicy
	}{
		{"zero is the default", RetryPolicy{}, DefaultRetryPolicy},
		{"one attempt", RetryPolicy{MaxAttempts: 1}, RetryPolicy{MaxAttempts: 1, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second, Multiplier: 2}},
		{"unbounded attempts", RetryPolicy{MaxAttempts: -1}, RetryPolicy{MaxAttempts: -1, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second, Multiplier: 2}},
		{"cap below the first wait is raised to it", RetryPolicy{InitialBackoff: 5 * time.Second, MaxBackoff: time.Second}, RetryPolicy{MaxAttempts: 10, InitialBackoff: 5 * time.Second, MaxBackoff: 5 * time.Second, Multiplier: 2}},
		{"multiplier below 1", RetryPolicy{Multiplier: 0.5}, DefaultRetryPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("withDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestAllowsAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		max, n int
		want   bool
	}{
		{1, 1, false},
		{3, 1, true},
		{3, 2, true},
		{3, 3, false},
		{-1, 1000000, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("max %d after %d", tc.max, tc.n), func(t *testing.T) {
			if got := (RetryPolicy{MaxAttempts: tc.max}).allowsAfter(tc.n); got != tc.want {
				t.Errorf("allowsAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code codes.Code
		want error
		also error // another target it matches, or nil
	}{
		{codes.InvalidArgument, ErrInvalidArgument, nil},
		{codes.NotFound, ErrNotFound, nil},
		{codes.AlreadyExists, ErrAlreadyExists, nil},
		{codes.OutOfRange, ErrOutOfRange, nil},
		{codes.FailedPrecondition, ErrFailedPrecondition, nil},
		{codes.PermissionDenied, ErrPermissionDenied, nil},
		{codes.Unauthenticated, ErrUnauthenticated, nil},
		{codes.ResourceExhausted, ErrResourceExhausted, nil},
		{codes.Aborted, ErrAborted, nil},
		{codes.Unavailable, ErrUnavailable, nil},
		{codes.DeadlineExceeded, ErrDeadlineExceeded, context.DeadlineExceeded},
		{codes.Canceled, ErrCanceled, context.Canceled},
		{codes.Unimplemented, ErrUnimplemented, nil},
		{codes.Internal, ErrInternal, nil},
		{codes.DataLoss, ErrInternal, nil},
		{codes.Unknown, ErrUnknown, nil},
	}
	all := []error{ErrInvalidArgument, ErrNotFound, ErrAlreadyExists, ErrOutOfRange, ErrFailedPrecondition,
		ErrPermissionDenied, ErrUnauthenticated, ErrResourceExhausted, ErrAborted, ErrUnavailable,
		ErrDeadlineExceeded, ErrCanceled, ErrUnimplemented, ErrInternal, ErrUnknown, context.Canceled, context.DeadlineExceeded}
	for _, tc := range tests {
		t.Run(tc.code.String(), func(t *testing.T) {
			cause := status.Error(tc.code, "the message")
			err := convert(cause)
			for _, target := range all {
				want := target == tc.want || target == tc.also
				if got := errors.Is(err, target); got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, target, got, want)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.Message() != "the message" {
				t.Fatalf("convert(%v) = %#v, want an *Error with the status message", cause, err)
			}
			if st, _ := status.FromError(err); st.Code() != tc.code || st.Message() != "the message" {
				t.Errorf("status.FromError = %v %q, want the original status", st.Code(), st.Message())
			}
			if !errors.Is(err, cause) {
				t.Errorf("the gRPC error is not in the chain of %v", err)
			}
		})
	}
}

func TestConvertKeepsOtherErrors(t *testing.T) {
	t.Parallel()
	plain := errors.New("an interceptor's own error")
	if got := convert(plain); got != plain {
		t.Errorf("convert(plain) = %v, want it unchanged", got)
	}
	if got := convert(nil); got != nil {
		t.Errorf("convert(nil) = %v", got)
	}
}

func TestIsLoopbackTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target string
		want   bool
	}{
		{"localhost:8080", true},
		{"LOCALHOST:1", true},
		{"127.0.0.1:8080", true},
		{"127.9.9.9:8080", true},
		{"[::1]:8080", true},
		{"dns:///localhost:8080", true},
		{"passthrough:///127.0.0.1:80", true},
		{"tally.example.com:443", false},
		{"dns:///tally.example.com:443", false},
		{"10.0.0.1:8080", false},
		{"localhost.example.com:80", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			if got := isLoopbackTarget(tc.target); got != tc.want {
				t.Errorf("isLoopbackTarget(%q) = %v, want %v", tc.target, got, tc.want)
			}
		})
	}
}
