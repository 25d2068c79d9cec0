package shard

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The storage's refusals of a read time, as production and the emulator word them.
func TestClassifyReadAt(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	recent, pitr := now.Add(-10*time.Minute).Add(123*time.Microsecond), now.Add(-10*24*time.Hour)
	tests := []struct {
		name string
		code codes.Code
		msg  string
		at   time.Time
		want error
	}{
		{"production, too old", codes.FailedPrecondition, "The requested snapshot version is too old.", pitr, ErrReadTimeTooOld},
		{"emulator, too old", codes.FailedPrecondition, "read_time 2026-11-22T12:00:00Z is older than the version retention window (1h0m0s)", pitr, ErrReadTimeTooOld},
		{"a whole minute with no version kept", codes.InvalidArgument, "Invalid read time", pitr, ErrReadTimeTooOld},
		{"invalid argument saying too old", codes.InvalidArgument, "read_time is too old", recent, ErrReadTimeTooOld},
		{"in the storage's future", codes.InvalidArgument, "read_time 2026-12-02T12:00:01Z is in the future", recent, ErrBadReadTime},
		{"not a whole minute, by the storage's clock", codes.InvalidArgument, "Invalid read time", now.Add(-time.Hour + time.Millisecond), ErrBadReadTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyReadAt(status.Error(tt.code, tt.msg), tt.at, now); !errors.Is(got, tt.want) {
				t.Errorf("classifyReadAt(%v %q) = %v, want %v", tt.code, tt.msg, got, tt.want)
			}
		})
	}
	for _, err := range []error{
		status.Error(codes.FailedPrecondition, "The query requires an index."),
		status.Error(codes.InvalidArgument, "The referenced transaction has expired or is no longer valid."),
		status.Error(codes.Unavailable, "connection refused"),
	} {
		if got := classifyReadAt(err, recent, now); got != err {
			t.Errorf("classifyReadAt(%v) = %v, want it unchanged", err, got)
		}
	}
}
