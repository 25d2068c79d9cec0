package shard

import (
	"errors"
	"fmt"
)

// Errors returned by the sharding core, grouped by what the caller should do. The gRPC service
// maps each to one status code.
var (
	// ErrInvalidArgument wraps every rejection of malformed input (an ArgError, or
	// ErrBadPageToken); nothing was written.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrBadPageToken: a List page token is malformed or was issued for another prefix or view.
	// Only the core can tell: the token is opaque to everyone else.
	ErrBadPageToken = fmt.Errorf("%w: the page token is malformed or was issued for a different prefix or view", ErrInvalidArgument)
	// ErrBadReadTime: the storage refused the time of a read as of a time as one it cannot read
	// at: in the future by its own clock (which may run behind this server's), or, beyond the last
	// hour, not a whole minute. Only the storage can tell; ValidateReadTime refuses what it can.
	ErrBadReadTime = fmt.Errorf("%w: the storage cannot read at this time", ErrInvalidArgument)
	// ErrNotFound: the counter does not exist.
	ErrNotFound = errors.New("counter not found")
	// ErrAlreadyExists: CreateCounter of a counter that exists.
	ErrAlreadyExists = errors.New("counter already exists")
	// ErrKeyReused: an idempotency key was used before for a different request.
	ErrKeyReused = errors.New("idempotency key was used for a different request")
	// ErrTooLarge: Firestore refused the commit as invalid, which for tally's own writes means
	// larger than one commit may be (a BatchIncrement creating many counters); nothing was
	// applied. Send fewer increments per batch.
	ErrTooLarge = errors.New("the request is larger than one commit may be")
	// ErrOutOfRange: an increment that would take a counter's total outside int64, or a total
	// beyond int64 (left by an earlier version of tally).
	// Nothing was applied.
	ErrOutOfRange = errors.New("value out of the int64 range")
	// ErrReadTimeTooOld: a read as of a time older than the storage keeps versions for (an hour,
	// or Firestore's point-in-time recovery window, up to seven days; the emulator's
	// VersionRetention). Nothing can be read at that time any more.
	ErrReadTimeTooOld = errors.New("the read time is older than the storage keeps versions for")
	// ErrOverloaded: the request was shed before anything was applied; retry with backoff.
	ErrOverloaded = errors.New("too many queued increments for this counter")
	// ErrContention: conflicting writes kept the request from committing; nothing was applied.
	ErrContention = errors.New("too much contention on this counter")
	// ErrUnknownOutcome: the write may or may not have been applied (e.g. the connection to
	// Firestore failed mid-commit). Retrying with the same idempotency key applies it exactly once.
	ErrUnknownOutcome = errors.New("the outcome of the write is unknown")
	// ErrUnavailable: Firestore could not be reached before anything was written (or for a
	// read); nothing was applied. Retry with backoff.
	ErrUnavailable = errors.New("Firestore is unavailable")
	// ErrClosed: the store is shutting down and accepts no new requests.
	ErrClosed = errors.New("the counter store is closed")
)

// ArgError is an ErrInvalidArgument that names the offending argument of a Counters method by its
// Go name: "id", "key", "shards", "deltas", "deltas[i].CounterID", "ids", "ids[i]",
// "opts.Prefix", "opts.PageSize", "at". These are the core's terms, not the API's: service/ validates
// each request before calling the core and names the request field itself.
type ArgError struct {
	Arg string
	Msg string // what is wrong, e.g. "counter id must not be empty"
}

func (e *ArgError) Error() string { return "invalid argument " + e.Arg + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidArgument) true.
func (e *ArgError) Unwrap() error { return ErrInvalidArgument }

func invalid(arg, msg string) error { return &ArgError{Arg: arg, Msg: msg} }
