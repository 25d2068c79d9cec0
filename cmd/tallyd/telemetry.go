package main

import (
	"context"
	"log/slog"
	"runtime/debug"

	"go.opentelemetry.io/otel"

	"github.com/tally-dev/tally/internal/telemetry"
)

// flushTelemetry sends the spans and metrics still buffered for OTLP, for at most exitTimeout,
// and says when it was cut short: what the collector had not taken by then is lost.
func flushTelemetry(tel *telemetry.Telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	err := tel.Shutdown(ctx)
	switch {
	case ctx.Err() != nil:
		log.Warn("telemetry flush cut short: the OTLP collector did not take the buffered spans and metrics in time; they are lost",
			"timeout", exitTimeout, "err", err)
	case err != nil:
		log.Warn("flushing telemetry", "err", err)
	}
}

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
