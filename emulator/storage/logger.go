package storage

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleLogger routes pebble's messages to slog.
type pebbleLogger struct{ log *slog.Logger }

var _ pebble.Logger = pebbleLogger{}

// Infof logs at debug level: pebble's informational messages (WAL recovery, compactions) are
// about its internals, not about the emulator's work.
func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf must not return: pebble calls it when continuing would break its invariants, for
// example after a failed commit, where returning would let Apply report success for a batch
// that was never written. Panicking instead of exiting lets the flusher turn a fatal commit
// error into a failed store and failed tickets; anywhere else the panic ends the process, as
// pebble intends.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "fatal", true)
	panic(pebbleFatal(msg))
}

// pebbleFatal is the panic value of pebbleLogger.Fatalf.
type pebbleFatal string
