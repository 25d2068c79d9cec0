// Package promql reads the names PromQL expressions use, enough to hold tally's dashboards and
// alert queries against the metrics tallyd exports: which metrics an expression reads and which
// labels it matches on or groups by. It is not a PromQL parser; it knows tallyd's metric names
// (tally_*, rpc_* and target_info).
package promql

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	// metricName finds the metric names in an expression, once quoted strings, matchers and
	// groupings are removed: tallyd's own, the gRPC ones and target_info.
	metricName = regexp.MustCompile(`\b(?:tally|rpc)_[a-zA-Z0-9_]*[a-zA-Z0-9]|\btarget_info\b`)
	matchers   = regexp.MustCompile(`\{[^}]*\}`)
	// labelMatcher finds the label names of matchers ({name="..."}, =~, !=, !~), once quoted
	// strings are emptied.
	labelMatcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*""`)
	// grouping finds the label lists of by (...) and without (...).
	grouping     = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	quoted       = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	rangeOrParam = regexp.MustCompile(`\[[^\]]*\]`)
)

// Names returns the metrics expr reads and the labels it matches on or groups by, in the order
// they appear (with repeats).
func Names(expr string) (metrics, labels []string) {
	text := rangeOrParam.ReplaceAllString(expr, "")
	text = quoted.ReplaceAllString(text, `""`)
	metrics = metricName.FindAllString(grouping.ReplaceAllString(matchers.ReplaceAllString(text, ""), ""), -1)
	for _, m := range labelMatcher.FindAllStringSubmatch(text, -1) {
		labels = append(labels, m[1])
	}
	for _, g := range grouping.FindAllStringSubmatch(text, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	return metrics, labels
}

// Query is one PromQL text of a Grafana dashboard and where it is, as a JSON path.
type Query struct{ Where, Text string }

// GrafanaQueries returns every expr of every panel target, and every query of the templating
// variables, of a Grafana dashboard d (decoded JSON) under the path where.
func GrafanaQueries(d any, where string) []Query {
	var out []Query
	switch v := d.(type) {
	case map[string]any:
		for k, x := range v {
			path := where + "." + k
			if s, ok := x.(string); ok && (k == "expr" || (strings.Contains(where, "templating") && (k == "query" || k == "definition"))) {
				out = append(out, Query{path, s})
				continue
			}
			out = append(out, GrafanaQueries(x, path)...)
		}
	case []any:
		for i, x := range v {
			out = append(out, GrafanaQueries(x, where+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return out
}
