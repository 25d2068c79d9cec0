package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/tally-dev/tally/internal/telemetry"
)

// logFormat is the value of --log-json: JSON lines, text lines, or, by default, JSON unless
// standard error is a terminal. A person at a terminal reads text; whatever else takes the
// output (Cloud Run's and other container runtimes' log collectors, a journal, a file) gets
// lines it can parse without being told.
type logFormat string

const (
	logAuto logFormat = "auto"
	logJSON logFormat = "true"
	logText logFormat = "false"
)

var _ flag.Getter = (*logFormat)(nil)

func (f *logFormat) String() string {
	if f == nil || *f == "" {
		return string(logAuto)
	}
	return string(*f)
}

// Set takes auto or a boolean as strconv.ParseBool reads it.
func (f *logFormat) Set(s string) error {
	if s == string(logAuto) {
		*f = logAuto
		return nil
	}
	json, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true (JSON), false (text) or auto")
	}
	*f = logText
	if json {
		*f = logJSON
	}
	return nil
}

// IsBoolFlag lets --log-json alone mean --log-json=true, as before it took auto.
func (f *logFormat) IsBoolFlag() bool { return true }

func (f *logFormat) Get() any { return *f }

// jsonLines reports whether to write JSON lines to an output that is a terminal or not.
func (f logFormat) jsonLines(terminal bool) bool {
	switch f {
	case logJSON:
		return true
	case logText:
		return false
	}
	return !terminal
}

// isTerminal reports whether w is a character device, as a terminal is. /dev/null is one too,
// where the format does not matter; a pipe, a socket or a regular file is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLogger writes to w in the format cfg.LogJSON asks for, terminal telling whether w is a
// terminal (isTerminal, or a test's choice).
func newLogger(cfg *Config, w io.Writer, terminal bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON.jsonLines(terminal) {
		opts.ReplaceAttr = cloudLoggingAttr(cfg.Project)
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// cloudLoggingAttr names the fields of JSON lines as Cloud Logging reads them from a
// container's output (severity, message, and the trace of the line when the project is known,
// so that the line shows under its trace), which most other collectors read as well.
func cloudLoggingAttr(project string) func(groups []string, a slog.Attr) slog.Attr {
	return func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.LevelKey:
			level, _ := a.Value.Any().(slog.Level)
			severity := "DEFAULT"
			switch {
			case level >= slog.LevelError:
				severity = "ERROR"
			case level >= slog.LevelWarn:
				severity = "WARNING"
			case level >= slog.LevelInfo:
				severity = "INFO"
			default:
				severity = "DEBUG"
			}
			return slog.String("severity", severity)
		case slog.MessageKey:
			return slog.Attr{Key: "message", Value: a.Value}
		case telemetry.TraceIDKey:
			if project != "" {
				return slog.String("logging.googleapis.com/trace", "projects/"+project+"/traces/"+a.Value.String())
			}
		case telemetry.SpanIDKey:
			if project != "" {
				return slog.Attr{Key: "logging.googleapis.com/spanId", Value: a.Value}
			}
		}
		return a
	}
}
