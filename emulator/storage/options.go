package storage

import (
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// DefaultMaxGroupBytes bounds one group commit when Options.MaxGroupBytes is zero.
const DefaultMaxGroupBytes = 2 << 20

// Options configures Open.
type Options struct {
	// Dir is the data directory, created if missing. Ignored when InMemory.
	Dir string
	// InMemory keeps pebble on an in-memory file system: the same code path, nothing on disk and
	// no fsync cost. Everything is lost on Close.
	InMemory bool
	// Logger receives pebble's and the store's log messages; nil discards them.
	Logger *slog.Logger
	// MaxGroupBytes bounds the encoded size of one group commit. Batches past it wait for the
	// next fsync; a single larger batch is still written, alone. Zero means DefaultMaxGroupBytes.
	MaxGroupBytes int
	// Expiry, when set, has the store keep an index of the documents' expiry times (see
	// Expiring); nil keeps none.
	Expiry *Expiry

	// fs replaces the file system in tests that inject I/O errors.
	fs vfs.FS
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxGroupBytes <= 0 {
		o.MaxGroupBytes = DefaultMaxGroupBytes
	}
	return o
}
