package main

import (
	"runtime/debug"
	"time"

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
