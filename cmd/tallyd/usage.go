package main

import (
	"flag"
	"fmt"
	"strings"
)

// otherEnv are the environment variables tallyd reads besides the TALLY_* ones, as --help and
// docs/operations.md list them.
var otherEnv = []struct{ name, meaning string }{
	{"PORT", "listen on 0.0.0.0:$PORT (set by Cloud Run); --addr or TALLY_ADDR wins"},
	{"FIRESTORE_EMULATOR_HOST", "host:port of an external Firestore emulator; selects --storage=emulator"},
	{"GOOGLE_CLOUD_PROJECT", "default of --project; selects --storage=firestore when no emulator host is set"},
	{"GOGC", "when set, --gc-percent defaults to 0 and the runtime's setting stands"},
	{"OTEL_*", "tracing and metrics export (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, ...)"},
}

// printUsage is the flag set's --help: every flag with its environment variable and default.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: tallyd [flags]

tallyd serves the tally counter API over gRPC, with health checking and server reflection,
storing counters in Firestore: an embedded durable emulator by default, an external emulator,
or Cloud Firestore.

Every flag --foo-bar can also be set by the environment variable TALLY_FOO_BAR. A flag on the
command line beats the environment, which beats the default.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace("--"+f.Name+" "+placeholder))
		fmt.Fprintf(w, "\t%s\n", usage)
		fmt.Fprintf(w, "\tenv %s, default %s\n", envName(f.Name), shownDefault(f))
	})
	fmt.Fprint(w, "\nOther environment variables:\n")
	for _, e := range otherEnv {
		fmt.Fprintf(w, "  %s\n\t%s\n", e.name, e.meaning)
	}
}

// shownDefault is a flag's default as --help and the documentation show it.
func shownDefault(f *flag.Flag) string {
	switch {
	case f.DefValue == "":
		return "empty"
	case f.Name == "log-level":
		return strings.ToLower(f.DefValue) // a level prints as INFO but is given as info
	}
	return f.DefValue
}
