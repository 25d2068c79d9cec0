package shard

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reads as of a time (GetAt, BatchGetAt) are Firestore's point-in-time reads: one read-only
// transaction at the requested time reads the metadata and sums the shards, exactly as a current
// read does, in the snapshot of that instant. Every change of a counter is one commit, so the
// snapshot holds every commit up to that time and none after it.
//
// How far back: production Firestore reads any microsecond within the last hour and, with
// point-in-time recovery enabled, whole minutes up to seven days back; the emulator keeps every
// version for its VersionRetention (one hour by default). Older than that, the storage answers
// FAILED_PRECONDITION, which the store reports as ErrReadTimeTooOld.
//
// Precision: commit times are whole microseconds, so a read time is truncated to the microsecond
// without changing what it reads (no commit falls between the two), as the Firestore client does.
// A time older than an hour must be a whole minute (ValidateReadTime): production reads
// nothing else there, and the rule is kept everywhere, so that what a test against the emulator
// accepts production accepts too. Such a time is refused rather than rounded: rounding would
// answer the value at another moment.

// recentVersions is how far back Firestore reads at any microsecond; beyond it, point-in-time
// recovery keeps one snapshot a minute.
const recentVersions = time.Hour

// ValidateReadTime checks the time of a read as of a time, given the current time: zero (read
// now), or after the Unix epoch, not after now, and a whole minute if more than an hour ago.
// Whether the storage still keeps the versions of that time only the storage can tell.
func ValidateReadTime(at, now time.Time) error {
	if at.IsZero() {
		return nil
	}
	at = readTimeOf(at)
	switch {
	case at.UnixMicro() <= 0:
		return fmt.Errorf("is %s; it must be after the Unix epoch", at.UTC().Format(time.RFC3339Nano))
	case at.After(now):
		return fmt.Errorf("is %s, in the future", at.UTC().Format(time.RFC3339Nano))
	case now.Sub(at) > recentVersions && !at.Equal(at.Truncate(time.Minute)):
		return fmt.Errorf("is %s, more than an hour ago and not a whole minute: beyond the last hour the storage "+
			"keeps one version a minute (Firestore's point-in-time recovery)", at.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// readTimeOf is the time a read at t reads at: t truncated to the microsecond.
func readTimeOf(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// classifyReadAt turns the storage's refusal of the read time at, judged at now, into the store's
// errors. Firestore answers FAILED_PRECONDITION for a time older than it keeps versions for ("The
// requested snapshot version is too old"; the emulator: "older than the version retention
// window"), and INVALID_ARGUMENT for a time it cannot read at: in the future by its own clock, or,
// beyond the last hour, one it keeps no version of, which for a whole minute (validation let no
// other time through there) means point-in-time recovery is off or the time is past its window,
// so too old. A query without its index is FAILED_PRECONDITION too, and is left alone, as is an
// expired transaction.
func classifyReadAt(err error, at, now time.Time) error {
	msg := strings.ToLower(status.Convert(err).Message())
	switch status.Code(err) {
	case codes.FailedPrecondition:
		if !strings.Contains(msg, "index") {
			return fmt.Errorf("%w: %v", ErrReadTimeTooOld, err)
		}
	case codes.InvalidArgument:
		switch {
		case transactionExpired(err):
		case strings.Contains(msg, "too old") || strings.Contains(msg, "older than") ||
			now.Sub(at) > recentVersions && at.Equal(at.Truncate(time.Minute)):
			return fmt.Errorf("%w: %v", ErrReadTimeTooOld, err)
		default:
			return fmt.Errorf("%w: %v", ErrBadReadTime, err)
		}
	}
	return err
}
