package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

const testHeader = `{"kind":"header","format":"tally-export","version":1,"export_id":"0123abcd","export_time":"2025-03-14T15:09:26.535897Z","prefix":""}`

func TestExportRoundTrip(t *testing.T) {
	type row struct {
		id     string
		shards int32
		value  int64
	}
	rows := []row{{"a", 1, 0}, {"max", 16, math.MaxInt64}, {"min", 1000, math.MinInt64}, {"odd \"<id>\" ✓", 3, 1<<53 + 1}, {"neg", 2, -(1<<53 + 1)}}
	var b bytes.Buffer
	h := exportHeader{ExportID: "0123abcd", ExportTime: "2025-03-14T15:09:26.535897Z", Prefix: "p"}
	ew, err := newExportWriter(&b, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := ew.add(r.id, r.shards, r.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := ew.close(); err != nil {
		t.Fatal(err)
	}
	wantText := `{"kind":"header","format":"tally-export","version":1,"export_id":"0123abcd","export_time":"2025-03-14T15:09:26.535897Z","prefix":"p"}
{"kind":"counter","id":"a","shard_count":1,"value":"0"}
{"kind":"counter","id":"max","shard_count":16,"value":"9223372036854775807"}
{"kind":"counter","id":"min","shard_count":1000,"value":"-9223372036854775808"}
{"kind":"counter","id":"odd \"<id>\" ✓","shard_count":3,"value":"9007199254740993"}
{"kind":"counter","id":"neg","shard_count":2,"value":"-9007199254740993"}
{"kind":"end","counters":5}
`
	if b.String() != wantText {
		t.Errorf("export file:\n%s\nwant:\n%s", b.String(), wantText)
	}
	ex, err := readExport(&b, "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if ex.header.ExportID != h.ExportID || ex.header.ExportTime != h.ExportTime || ex.header.Prefix != "p" || ex.header.Version != exportVersion {
		t.Errorf("header %+v", ex.header)
	}
	if len(ex.counters) != len(rows) {
		t.Fatalf("%d counters, want %d", len(ex.counters), len(rows))
	}
	for i, r := range rows {
		c := ex.counters[i]
		if c.ID != r.id || c.ShardCount != r.shards || int64(*c.Value) != r.value || c.line != i+2 {
			t.Errorf("counter %d = %+v, want %+v on line %d", i, c, r, i+2)
		}
	}
}

// TestReadExportValues: values are read exactly, as strings or as integer
// numbers, never through a float.
func TestReadExportValues(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int64
	}{
		{`"9223372036854775807"`, math.MaxInt64},
		{`9223372036854775807`, math.MaxInt64},
		{`-9223372036854775808`, math.MinInt64},
		{`"-9223372036854775808"`, math.MinInt64},
		{`9007199254740993`, 1<<53 + 1},
		{`0`, 0},
	} {
		file := testHeader + "\n" + `{"kind":"counter","id":"c","shard_count":1,"value":` + tc.value + "}\n" + `{"kind":"end","counters":1}` + "\n"
		ex, err := readExport(strings.NewReader(file), "f")
		if err != nil {
			t.Errorf("value %s: %v", tc.value, err)
			continue
		}
		if got := int64(*ex.counters[0].Value); got != tc.want {
			t.Errorf("value %s read as %d, want %d", tc.value, got, tc.want)
		}
	}
}

func TestReadExportRefuses(t *testing.T) {
	counter := func(id, shards, value string) string {
		return `{"kind":"counter","id":"` + id + `","shard_count":` + shards + `,"value":` + value + `}`
	}
	end := func(n string) string { return `{"kind":"end","counters":` + n + `}` }
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	good := counter("c", "1", `"5"`)
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "f: empty: not a tally export"},
		{"no header", lines(good, end("1")), "f:1: not a tally export: the first line must be its header"},
		{"not JSON", lines("tally export"), "f:1: not a JSON object: invalid character 'a' in literal true (expecting 'r')"},
		{"other format", lines(strings.Replace(testHeader, "tally-export", "other", 1), end("0")), `f:1: format "other", want "tally-export"`},
		{"later version", lines(strings.Replace(testHeader, `"version":1`, `"version":2`, 1), end("0")), "f:1: format version 2; this tally reads version 1"},
		{"no export id", lines(strings.Replace(testHeader, `"0123abcd"`, `""`, 1), end("0")), "f:1: no export_id: the import's idempotency keys derive from it"},
		{"bad export time", lines(strings.Replace(testHeader, `2025-03-14T15:09:26.535897Z`, `yesterday`, 1), end("0")), `f:1: export_time: parsing time "yesterday"`},
		{"unknown field", lines(testHeader, `{"kind":"counter","id":"c","shard_count":1,"value":"5","unit":"ms"}`, end("1")), `f:2: json: unknown field "unit"`},
		{"second header", lines(testHeader, testHeader, end("0")), "f:2: a second header"},
		{"unknown kind", lines(testHeader, `{"kind":"gauge"}`, end("0")), `f:2: unknown kind "gauge"`},
		{"float value", lines(testHeader, counter("c", "1", "1e3"), end("1")), "f:2: value 1e3 must be an integer"},
		{"fractional value", lines(testHeader, counter("c", "1", `"1.5"`), end("1")), `value "1.5" must be an integer`},
		{"value beyond int64", lines(testHeader, counter("c", "1", `"9223372036854775808"`), end("1")), `value "9223372036854775808" must be an integer`},
		{"no value", lines(testHeader, `{"kind":"counter","id":"c","shard_count":1}`, end("1")), `f:2: counter "c": no value`},
		{"no id", lines(testHeader, counter("", "1", `"5"`), end("1")), "f:2: a counter without an id"},
		{"id with a slash", lines(testHeader, counter("a/b", "1", `"5"`), end("1")), `f:2: counter id "a/b" is not valid UTF-8 without "/"`},
		{"no shards", lines(testHeader, counter("c", "0", `"5"`), end("1")), `f:2: counter "c": shard_count 0, want 1 to 1000`},
		{"too many shards", lines(testHeader, counter("c", "1001", `"5"`), end("1")), `f:2: counter "c": shard_count 1001, want 1 to 1000`},
		{"duplicate counter", lines(testHeader, good, counter("d", "1", `"1"`), good, end("3")), `f:4: counter "c" again (first on line 2)`},
		{"no end line", lines(testHeader, good), "f: incomplete: no end line after 1 counters (the export failed or the file was cut short)"},
		{"cut inside a line", testHeader + "\n" + good[:20], "f:2: not a JSON object"},
		{"end line miscounts", lines(testHeader, good, end("2")), "f:3: the end line counts 2 counters, the file has 1"},
		{"line after the end", lines(testHeader, good, end("1"), good), "f:4: a line after the end line"},
		{"two values on a line", lines(testHeader, good+" {}", end("1")), "f:2: not a JSON object: invalid character '{' after top-level value"},
		{"line too long", lines(testHeader, counter(strings.Repeat("x", maxExportLine), "1", `"5"`)), "f:2: line longer than 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readExport(strings.NewReader(tc.file), "f")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readExport error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestImportKeys(t *testing.T) {
	h := exportHeader{ExportID: "a", ExportTime: "2025-03-14T15:09:26Z"}
	base := importKey(defaultKeyPrefix, h, "c", 0)
	if base != importKey(defaultKeyPrefix, h, "c", 0) {
		t.Fatal("the same import made two keys")
	}
	if !strings.HasPrefix(base, defaultKeyPrefix) || len(base) != len(defaultKeyPrefix)+64 {
		t.Errorf("key %q: want %q and 64 hex digits", base, defaultKeyPrefix)
	}
	other := h
	other.ExportID = "b"
	later := h
	later.ExportTime = "2025-03-14T15:09:27Z"
	for name, k := range map[string]string{
		"another export":                importKey(defaultKeyPrefix, other, "c", 0),
		"another time":                  importKey(defaultKeyPrefix, later, "c", 0),
		"another counter":               importKey(defaultKeyPrefix, h, "d", 0),
		"another key number":            importKey(defaultKeyPrefix, h, "c", 1),
		"fields that concatenate alike": importKey(defaultKeyPrefix, exportHeader{ExportID: "a2025-03-14T15:09:26Z", ExportTime: ""}, "c", 0),
	} {
		if k == base {
			t.Errorf("%s: the same key %q", name, k)
		}
	}
	if k := importKey("mine/", h, "c", 0); k != "mine/"+strings.TrimPrefix(base, defaultKeyPrefix) {
		t.Errorf("--key-prefix mine/: key %q", k)
	}
}
