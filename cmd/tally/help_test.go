package main

import (
	"context"
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	var usage, incHelp strings.Builder
	if err := writeUsage(&usage); err != nil {
		t.Fatalf("writeUsage: %v", err)
	}
	if err := writeCommandHelp(&incHelp, lookupCommand("inc")); err != nil {
		t.Fatalf("writeCommandHelp: %v", err)
	}
	tests := []struct {
		name string
		args []string
		want outcome
	}{
		{"help", []string{"help"}, outcome{stdout: usage.String()}},
		{"help flag", []string{"--help"}, outcome{stdout: usage.String()}},
		{"help help", []string{"help", "help"}, outcome{stdout: usage.String()}},
		{"help for a command", []string{"help", "inc"}, outcome{stdout: incHelp.String()}},
		{"help flag of a command", []string{"inc", "x", "-h"}, outcome{stdout: incHelp.String()}},
		{"no command", nil, outcome{code: exitUsage, stderr: usage.String()}},
		{"unknown command", []string{"frobnicate"},
			outcome{code: exitUsage, stderr: "tally: unknown command \"frobnicate\"\nRun 'tally help' for usage.\n"}},
		{"help for an unknown command", []string{"help", "frobnicate"},
			outcome{code: exitUsage, stderr: "tally: unknown command \"frobnicate\"\nRun 'tally help' for usage.\n"}},
		{"help for two commands", []string{"help", "inc", "get"},
			outcome{code: exitUsage, stderr: "tally: help takes at most one COMMAND, got 2 arguments\nRun 'tally help' for usage.\n"}},
		{"unknown global flag", []string{"--bogus", "list"},
			outcome{code: exitUsage, stderr: "tally: unknown flag --bogus\nRun 'tally help' for usage.\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkOutcome(t, runTally(context.Background(), tc.args...), tc.want)
		})
	}
}

// TestUsageContents checks that the overview documents what users rely on.
func TestUsageContents(t *testing.T) {
	var b strings.Builder
	if err := writeUsage(&b); err != nil {
		t.Fatalf("writeUsage: %v", err)
	}
	usage := b.String()
	var want []string
	for _, c := range commands() {
		want = append(want, "  "+c.name+" "+c.args)
	}
	want = append(want,
		"  help [COMMAND]",
		"--addr HOST:PORT", "$TALLY_ADDR", "127.0.0.1:8080", "--json", "--timeout D",
		"--attempts N", "$TALLY_ATTEMPTS", "--no-key",
		"--token T", "$TALLY_TOKEN", "x-tally-token", "--id-token T", "$TALLY_ID_TOKEN", "authorization: Bearer",
		"gcloud auth print-identity-token", "--tls", "--ca-cert FILE", "--client-cert FILE", "--client-key FILE",
		"--server-name NAME", "--insecure",
		"  0  success",
		"  1  the server answered with an error",
		"  2  usage error",
		"  3  the server could not be reached",
	)
	for _, w := range want {
		if !strings.Contains(usage, w) {
			t.Errorf("usage lacks %q:\n%s", w, usage)
		}
	}
}

// TestCommandHelp checks that each command's help shows its synopsis and
// every flag it accepts.
func TestCommandHelp(t *testing.T) {
	wantFlags := map[string][]string{
		"inc":    {"--key K", "--no-key"},
		"get":    {"--at TIME"},
		"watch":  {"--min-interval D"},
		"create": {"--shards N", "--adaptive"},
		"resize": {"--shards N", "--adaptive on|off"},
		"reset":  {"--key K", "--no-key"},
		"delete": nil,
		"list":   {"--values", "--page-size N", "--all", "--page-token T"},
		"export": {"--prefix P", "-o FILE"},
		"import": {"-i FILE", "--merge", "--key-prefix K"},
		"token":  {"--id ID", "--prefix P", "--permission LIST"},
		"bench": {"--clients N", "--connections N", "--duration D", "--count N", "--counters N", "--skew uniform|zipf",
			"--zipf-s S", "--read-ratio F", "--keys", "--delta N", "--prefix P", "--rate R", "--json", "--chart FILE",
			"--progress D", "--grace D"},
	}
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			flags, ok := wantFlags[c.name]
			if !ok {
				t.Fatalf("command %s is not covered by this test", c.name)
			}
			var b strings.Builder
			if err := writeCommandHelp(&b, c); err != nil {
				t.Fatalf("writeCommandHelp: %v", err)
			}
			help := b.String()
			if want := "usage: tally [global flags] " + c.name + " " + c.args + "\n"; !strings.HasPrefix(help, want) {
				t.Errorf("help starts %q, want %q", help, want)
			}
			for _, f := range flags {
				if !strings.Contains(help, "  "+f+"  ") {
					t.Errorf("help lacks flag %q:\n%s", f, help)
				}
			}
			if len(flags) == 0 && strings.Contains(help, "Flags:") {
				t.Errorf("help lists flags for a command without any:\n%s", help)
			}
		})
	}
}
