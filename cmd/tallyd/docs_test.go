package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the generated tables of docs/operations.md")

// operationsDoc is the operators' documentation, relative to this package.
const operationsDoc = "../../docs/operations.md"

// The markers around the generated part of operationsDoc.
const (
	optionsBegin = "<!-- options: generated from tallyd's flags; go test ./cmd/tallyd -run TestOperationsDoc -update-docs -->\n"
	optionsEnd   = "<!-- end of options -->\n"
)

// optionsTables is the documentation of every option and environment variable, made from the
// flag set itself, so that it cannot drift from what tallyd does.
func optionsTables() string {
	var b strings.Builder
	b.WriteString("| Flag | Environment | Default | Meaning |\n| --- | --- | --- | --- |\n")
	newFlagSet(&Config{}, envMap(nil)).VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		def := shownDefault(f)
		if f.DefValue != "" {
			def = "`" + def + "`"
		}
		name := strings.TrimSpace("--" + f.Name + " " + placeholder)
		b.WriteString("| `" + name + "` | `" + envName(f.Name) + "` | " + def + " | " + strings.ReplaceAll(usage, "|", `\|`) + " |\n")
	})
	b.WriteString("\n| Other variable | Meaning |\n| --- | --- |\n")
	for _, e := range otherEnv {
		b.WriteString("| `" + e.name + "` | " + e.meaning + " |\n")
	}
	return b.String()
}

// TestOperationsDocListsEveryOption checks the options tables of docs/operations.md against the
// flag set; -update-docs rewrites them.
func TestOperationsDocListsEveryOption(t *testing.T) {
	raw, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	before, rest, ok := strings.Cut(doc, optionsBegin)
	current, after, ok2 := strings.Cut(rest, optionsEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers of the options tables:\n%s%s", operationsDoc, optionsBegin, optionsEnd)
	}
	want := optionsTables()
	if current == want {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(operationsDoc, []byte(before+optionsBegin+want+optionsEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the options tables of %s differ from tallyd's flags; run go test ./cmd/tallyd -run TestOperationsDoc -update-docs. Want:\n%s", operationsDoc, want)
}
