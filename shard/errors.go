package shard

import "errors"

// Errors returned by the sharding core, grouped by what the caller should do. The gRPC service
// maps each to one status code.
var (
	// ErrInvalidArgument wraps every rejection of malformed input (see FieldError); nothing was
	// written.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: the counter does not exist.
	ErrNotFound = errors.New("counter not found")
	// ErrAlreadyExists: CreateCounter of a counter that exists.
	ErrAlreadyExists = errors.New("counter already exists")
	// ErrKeyReused: an idempotency key was used before for a different request.
	ErrKeyReused = errors.New("idempotency key was used for a different request")
	// ErrOutOfRange: an increment no shard can absorb within int64, or a total beyond int64.
	// Nothing was applied.
	ErrOutOfRange = errors.New("value out of the int64 range")
	// ErrOverloaded: the request was shed before anything was applied; retry with backoff.
	ErrOverloaded = errors.New("too many queued increments for this counter")
	// ErrContention: conflicting writes kept the request from committing; nothing was applied.
	ErrContention = errors.New("too much contention on this counter")
	// ErrUnknownOutcome: the write may or may not have been applied (e.g. the connection to
	// Firestore failed mid-commit). Retrying with the same idempotency key applies it exactly once.
	ErrUnknownOutcome = errors.New("the outcome of the write is unknown")
	// ErrClosed: the store is shutting down and accepts no new requests.
	ErrClosed = errors.New("the counter store is closed")
)

// FieldError is an ErrInvalidArgument that names the offending request field.
type FieldError struct {
	Field string // e.g. "name", "delta", "shard_count"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidArgument) true.
func (e *FieldError) Unwrap() error { return ErrInvalidArgument }

func invalid(field, msg string) error { return &FieldError{Field: field, Msg: msg} }
