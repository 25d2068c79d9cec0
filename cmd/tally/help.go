package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

const usageIntro = `tally is the command-line client of the Tally counter service.

Usage:
  tally [global flags] COMMAND [ARGS]

Commands:
`

const usageOutro = `
NAME is a counter ID (page-views) or a full name (counters/page-views).
Command flags may come before or after the arguments; "--" ends the flags
(tally inc -- -odd-name 3). Results are aligned columns or lines of text,
or with --json one JSON object per line.

Retries: inc and reset count exactly once. Each run sends a fresh
idempotency key (or the --key given) and retries UNAVAILABLE, ABORTED,
RESOURCE_EXHAUSTED and broken connections with backoff and the same key, so
a lost answer is not counted twice; --no-key sends one attempt without a key.
Reads and resize are retried likewise; create and delete only when the
server certainly applied nothing. --attempts bounds the attempts of each
request, --timeout its time, retries included. import, export and bench make
their own calls and are not retried this way.

Credentials: a server with a tokens file wants --token (better: $TALLY_TOKEN,
which other users cannot see), sent as x-tally-token. Behind Cloud Run's IAM
invoker check, add an ID token, sent as authorization: Bearer; both headers go
together. For example:
  TALLY_ID_TOKEN=$(gcloud auth print-identity-token) tally --addr HOST:443 --tls get x
Tokens are sent over plaintext only to this machine (localhost, 127.0.0.1,
::1), unless --insecure is given; use --tls or --ca-cert FILE otherwise.

Exit status:
  0  success
  1  the server answered with an error, printed as "tally: CODE: message"
     followed by any invalid fields
  2  usage error: unknown command or flag, bad DELTA, missing NAME, ...
  3  the server could not be reached

Run 'tally help COMMAND' for details on a command.
`

// runHelp implements `tally help [COMMAND]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "help"):
		return writeOrFail(stderr, writeUsage(stdout))
	case len(args) > 1:
		return report(stderr, nil, usageErrorf("help takes at most one COMMAND, got %d arguments", len(args)))
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		return report(stderr, nil, usageErrorf("unknown command %q", args[0]))
	}
	return writeOrFail(stderr, writeCommandHelp(stdout, cmd))
}

// writeUsage prints the overview of every command, global flag and exit code.
func writeUsage(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(usageIntro)
	writeCommandList(&b)
	b.WriteString("\nGlobal flags (before COMMAND):\n")
	var g globals
	writeFlags(&b, newGlobalFlagSet(&g))
	b.WriteString(usageOutro)
	_, err := w.Write(b.Bytes())
	return err
}

// maxSynopsisColumn keeps the command list narrow: a longer synopsis gets
// its summary on the next line.
const maxSynopsisColumn = 30

func writeCommandList(b *bytes.Buffer) {
	type entry struct{ synopsis, summary string }
	var entries []entry
	for _, c := range commands() {
		entries = append(entries, entry{c.name + " " + c.args, c.summary})
	}
	entries = append(entries, entry{"help [COMMAND]", "show this help, or a command's"})
	width := 0
	for _, e := range entries {
		if len(e.synopsis) <= maxSynopsisColumn {
			width = max(width, len(e.synopsis))
		}
	}
	for _, e := range entries {
		if len(e.synopsis) > width {
			fmt.Fprintf(b, "  %s\n  %*s  %s\n", e.synopsis, width, "", e.summary)
			continue
		}
		fmt.Fprintf(b, "  %-*s  %s\n", width, e.synopsis, e.summary)
	}
}

// writeCommandHelp prints one command's synopsis, description and flags.
func writeCommandHelp(w io.Writer, cmd *command) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", cmd.synopsis(), cmd.details)
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.setup(fs)
	if hasFlags(fs) {
		b.WriteString("\nFlags:\n")
		writeFlags(&b, fs)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func hasFlags(fs *flag.FlagSet) bool {
	found := false
	fs.VisitAll(func(*flag.Flag) { found = true })
	return found
}

// writeFlags lists flags as "--name VALUE  usage", in the double-dash style
// the rest of the help uses; a one-letter flag such as -o has one dash.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		valueName, usage := flag.UnquoteUsage(f)
		if isBoolFlag(f) {
			valueName = ""
		}
		spec := "--" + f.Name
		if len(f.Name) == 1 {
			spec = "-" + f.Name
		}
		if valueName != "" {
			spec += " " + valueName
		}
		fmt.Fprintf(tw, "  %s\t%s\n", spec, usage)
	})
	tw.Flush()
}
