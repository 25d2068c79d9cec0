package main

import (
	"context"
	"flag"
	"strings"
)

// action runs a command with its positional arguments, after its flags were
// parsed.
type action func(ctx context.Context, s *session, args []string) error

// command is one tally subcommand.
type command struct {
	name    string
	args    string // the synopsis after the name, e.g. "NAME [DELTA] [--key K]"
	summary string // one line for the command list
	details string // paragraphs for `tally help NAME`
	// setup registers the command's flags on fs and returns the action that
	// reads them.
	setup func(fs *flag.FlagSet) action
	// local commands do not call the server: no connection is prepared, so
	// the connection flags do not matter to them.
	local bool
}

func (c *command) synopsis() string {
	return "tally [global flags] " + c.name + " " + c.args
}

// commands lists every command in the order `tally help` shows them.
func commands() []*command {
	return []*command{
		incCommand(),
		getCommand(),
		watchCommand(),
		createCommand(),
		resizeCommand(),
		resetCommand(),
		deleteCommand(),
		listCommand(),
		exportCommand(),
		importCommand(),
		tokenCommand(),
		benchCommand(),
	}
}

func lookupCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

const namePrefix = "counters/"

// counterName turns a NAME argument, an ID or a full name, into the full
// resource name. The server validates the rest.
func counterName(arg string) (string, error) {
	if err := checkName(arg); err != nil {
		return "", err
	}
	if strings.HasPrefix(arg, namePrefix) {
		return arg, nil
	}
	return namePrefix + arg, nil
}

// counterID turns a NAME argument into the bare counter ID.
func counterID(arg string) (string, error) {
	if err := checkName(arg); err != nil {
		return "", err
	}
	return strings.TrimPrefix(arg, namePrefix), nil
}

func checkName(arg string) error {
	if arg == "" {
		return usageErrorf("NAME must not be empty")
	}
	return nil
}

// checkArgCount reports missing or unexpected positional arguments. names
// describes them in order, e.g. {"NAME", "DELTA"}; the first required are
// mandatory.
func checkArgCount(args []string, required int, names ...string) error {
	if len(args) < required {
		return usageErrorf("missing %s", names[len(args)])
	}
	if len(args) > len(names) {
		return usageErrorf("unexpected argument %q", args[len(names)])
	}
	return nil
}
