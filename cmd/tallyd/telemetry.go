package main

import (
	"log/slog"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/tally-dev/tally/internal/telemetry"
)

// telemetryFlushTimeout bounds how long exiting waits for buffered spans and metrics to reach
// an OTLP collector.
const telemetryFlushTimeout = 5 * time.Second

// telemetryOptions are what the standard OTEL_* variables ask for, with this binary's version
// as the resource's service.version.
func telemetryOptions(env lookupEnv) telemetry.Options {
	opts := telemetry.EnvOptions(func(k string) string { v, _ := env(k); return v })
	if info, ok := debug.ReadBuildInfo(); ok {
		opts.ServiceVersion = info.Main.Version
	}
	return opts
}

// logTelemetryErrors sends the OpenTelemetry SDK's errors (an unreachable collector, a dropped
// export) to tallyd's log instead of the standard library's logger. The SDK has one error
// handler per process.
func logTelemetryErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("telemetry export failed", "err", err)
	}))
}
