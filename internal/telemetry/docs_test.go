package telemetry_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// operationsDoc is the operators' documentation, from this package's directory.
var operationsDoc = filepath.Join("..", "..", "docs", "operations.md")

// metricsHeader is the header row of the table of docs/operations.md's Metrics section that
// lists every family /metrics serves.
const metricsHeader = "| Metric | Type | Unit | Labels | Meaning |"

// scopeLabels are the labels of every series OpenTelemetry makes, which the table says once
// rather than in every row.
var scopeLabels = []string{"otel_scope_name", "otel_scope_schema_url", "otel_scope_version"}

// resourceFamily holds the resource's attributes as labels: which ones depends on the
// environment (OTEL_RESOURCE_ATTRIBUTES), so the labels scraped must be named in its row, but
// not every label named need be scraped.
const resourceFamily = "target_info"

// docRow is a row of the metrics table: the family's name (or a pattern ending in *), its type
// as the table's first word says it, and the names (or patterns) the row puts in backquotes,
// in its Labels column and in the whole row.
type docRow struct {
	line              int
	metric, typ       string
	labels, mentioned []string
}

var backquoted = regexp.MustCompile("`([^`]*)`")

// splitRow splits a Markdown table row into its cells; `\|` is a | inside a cell.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// quotedNames returns what cell puts in backquotes.
func quotedNames(cell string) []string {
	var out []string
	for _, m := range backquoted.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// metricsTable parses the table that begins with metricsHeader in doc.
func metricsTable(t *testing.T, doc string) []docRow {
	t.Helper()
	lines := strings.Split(doc, "\n")
	start := slices.Index(lines, metricsHeader)
	if start < 0 {
		t.Fatalf("%s has no table headed %s", operationsDoc, metricsHeader)
	}
	var rows []docRow
	for i := start + 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		cells := splitRow(lines[i])
		if len(cells) != 5 {
			t.Fatalf("%s:%d: %d cells, want 5: %s", operationsDoc, i+1, len(cells), lines[i])
		}
		names := quotedNames(cells[0])
		if len(names) != 1 {
			t.Fatalf("%s:%d: the Metric cell %q names %d metrics in backquotes, want 1", operationsDoc, i+1, cells[0], len(names))
		}
		typ, _, _ := strings.Cut(cells[1], " ")
		rows = append(rows, docRow{
			line:      i + 1,
			metric:    names[0],
			typ:       strings.TrimSuffix(typ, ","),
			labels:    quotedNames(cells[3]),
			mentioned: quotedNames(lines[i]),
		})
	}
	if len(rows) == 0 {
		t.Fatalf("%s: the table headed %s has no rows", operationsDoc, metricsHeader)
	}
	return rows
}

// matches reports whether name is pattern, or begins as pattern does when it ends in *.
func matches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return name == pattern
}

// familyLabels returns the label names of f's series, without the scope's.
func familyLabels(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(scopeLabels, l.GetName()) && !slices.Contains(out, l.GetName()) {
				out = append(out, l.GetName())
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestOperationsDocListsEveryMetric checks the metrics table of docs/operations.md against
// /metrics as scraped after traffic that records something in every instrument of the sharding
// core, both ways: every family scraped has a row (a pattern such as go_* covers a collector's),
// of its type and with its labels, and every row names a family scraped, with labels it has.
func TestOperationsDocListsEveryMetric(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := metricsTable(t, string(raw))
	fams := trafficScrape(t)

	names := make([]string, 0, len(fams))
	for name := range fams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.ContainsFunc(rows, func(r docRow) bool { return matches(r.metric, name) }) {
			t.Errorf("/metrics serves %s, which the metrics table of %s does not list", name, operationsDoc)
		}
	}

	for _, r := range rows {
		var covered []string
		for _, name := range names {
			if matches(r.metric, name) {
				covered = append(covered, name)
			}
		}
		if len(covered) == 0 {
			t.Errorf("%s:%d lists %s, which /metrics does not serve", operationsDoc, r.line, r.metric)
			continue
		}
		if strings.HasSuffix(r.metric, "*") {
			continue // a collector's families, of various types and labels
		}
		f := fams[r.metric]
		if want := strings.ToLower(f.GetType().String()); r.typ != want {
			t.Errorf("%s:%d: %s is a %s, the table says %s", operationsDoc, r.line, r.metric, want, r.typ)
		}
		scraped := familyLabels(f)
		if r.metric == resourceFamily {
			for _, l := range scraped {
				if !slices.ContainsFunc(r.mentioned, func(p string) bool { return matches(p, l) }) {
					t.Errorf("%s:%d: %s has the label %s, which its row does not name", operationsDoc, r.line, r.metric, l)
				}
			}
			continue
		}
		documented := slices.Sorted(slices.Values(r.labels))
		if !slices.Equal(documented, scraped) {
			t.Errorf("%s:%d: %s has the labels %v (and the scope's), the table says %v", operationsDoc, r.line, r.metric, scraped, documented)
		}
	}
}
