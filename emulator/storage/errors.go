package storage

import "errors"

var (
	// ErrClosed is returned by every operation on a closed Store.
	ErrClosed = errors.New("storage: store is closed")
	// ErrInvalid marks a caller error: a malformed batch, path or database. The store is unaffected.
	ErrInvalid = errors.New("storage: invalid argument")
	// ErrWriteFailed marks the error of a failed write. Once a write fails the store refuses all
	// further writes with the same error; reads keep working.
	ErrWriteFailed = errors.New("storage: write failed")
	// ErrCorrupt is returned when a stored key or value cannot be decoded, and wrapped by every
	// violation Store.Check reports.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrUnsupportedFormat is returned by Open for data written in a format this code does not know.
	ErrUnsupportedFormat = errors.New("storage: unsupported on-disk format")
)
