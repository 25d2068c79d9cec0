package value

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them, so callers can map
// them to a gRPC status with errors.Is; all of them are client errors (INVALID_ARGUMENT).
var (
	// ErrInvalidFieldPath reports a field path string that does not follow the field path syntax.
	ErrInvalidFieldPath = errors.New("invalid field path")
	// ErrInvalidValue reports a value that Firestore would refuse to store.
	ErrInvalidValue = errors.New("invalid value")
	// ErrInvalidTransform reports a field transform with a missing or unusable operand.
	ErrInvalidTransform = errors.New("invalid field transform")
)
