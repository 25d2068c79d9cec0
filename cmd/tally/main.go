// Command tally is the command-line client of the Tally counter service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in `tally help`.
const (
	exitOK          = 0
	exitFailed      = 1 // the server answered with an error
	exitUsage       = 2
	exitUnreachable = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one tally command line and returns its exit code. getenv is os.Getenv, a
// parameter so that tests control the environment ($TALLY_ADDR, $TALLY_TOKEN, ...).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	g, rest, err := parseGlobals(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return writeOrFail(stderr, writeUsage(stdout))
	}
	if err != nil {
		return report(stderr, nil, err)
	}
	if len(rest) == 0 {
		writeUsage(stderr)
		return exitUsage
	}
	if rest[0] == "help" {
		return runHelp(rest[1:], stdout, stderr)
	}
	cmd := lookupCommand(rest[0])
	if cmd == nil {
		return report(stderr, nil, usageErrorf("unknown command %q", rest[0]))
	}

	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	act := cmd.setup(fs)
	positional, err := parseFlags(fs, rest[1:], true)
	if errors.Is(err, flag.ErrHelp) {
		return writeOrFail(stderr, writeCommandHelp(stdout, cmd))
	}
	if err != nil {
		return report(stderr, cmd, err)
	}

	if cmd.local {
		s := newSession(nil, stdin, stdout, stderr, g.json)
		return report(stderr, cmd, act(ctx, s, positional))
	}
	seen := new(contact)
	api, err := connect(ctx, g, seen)
	if err != nil {
		return report(stderr, nil, err)
	}
	defer api.Close()
	s := newSession(api, stdin, stdout, stderr, g.json)
	s.globals = g
	s.contact = seen
	return report(stderr, cmd, act(ctx, s, positional))
}

// writeOrFail turns a failure to print help into exit code 1.
func writeOrFail(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintln(stderr, "tally:", err)
		return exitFailed
	}
	return exitOK
}
