package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFormatFlag: --log-json takes true, false or auto, alone it means true, and its default
// is auto; anything else is refused, from the command line as from TALLY_LOG_JSON.
func TestLogFormatFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want logFormat
	}{
		{name: "default", want: logAuto},
		{name: "alone", args: []string{"--log-json"}, want: logJSON},
		{name: "true", args: []string{"--log-json=true"}, want: logJSON},
		{name: "false", args: []string{"--log-json=false"}, want: logText},
		{name: "auto", args: []string{"--log-json=auto"}, want: logAuto},
		{name: "environment", env: map[string]string{"TALLY_LOG_JSON": "false"}, want: logText},
		{name: "Cloud Run's K_SERVICE changes nothing", env: map[string]string{"K_SERVICE": "tally"}, want: logAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flagConfig(t, tt.args, tt.env).LogJSON; got != tt.want {
				t.Errorf("--log-json is %q, want %q", got, tt.want)
			}
		})
	}
	var f logFormat
	for _, bad := range []string{"sometimes", "json", "", "AUTO "} {
		if err := f.Set(bad); err == nil {
			t.Errorf("--log-json=%q was accepted", bad)
		}
	}
}

// TestLogFormatFollowsTerminal: text lines on a terminal and JSON lines elsewhere by default;
// true and false win either way. The terminal is the test's choice, as isTerminal would report.
func TestLogFormatFollowsTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format   logFormat
		terminal bool
		wantJSON bool
	}{
		{logAuto, true, false},
		{logAuto, false, true},
		{logJSON, true, true},
		{logJSON, false, true},
		{logText, true, false},
		{logText, false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.format)+map[bool]string{true: " on a terminal", false: " elsewhere"}[tt.terminal], func(t *testing.T) {
			var out bytes.Buffer
			newLogger(&Config{LogJSON: tt.format, LogLevel: slog.LevelInfo}, &out, tt.terminal).Info("hello", "n", 1)
			if got := isJSONLine(out.String()); got != tt.wantJSON {
				t.Errorf("JSON: %v, want %v: %q", got, tt.wantJSON, out.String())
			}
			if !tt.wantJSON && !strings.Contains(out.String(), "level=INFO msg=hello n=1") {
				t.Errorf("not a text line: %q", out.String())
			}
		})
	}
}

// isJSONLine reports whether s is one JSON line as tallyd writes them for Cloud Logging.
func isJSONLine(s string) bool {
	var line map[string]any
	return strings.Count(s, "\n") == 1 && json.Unmarshal([]byte(s), &line) == nil && line["message"] != nil && line["severity"] != nil
}

// TestIsTerminal: a character device counts as a terminal (/dev/null is one, which a pseudo
// terminal would be too); a regular file, a pipe and a writer that is no file do not.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	tests := []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"a regular file", file, false},
		{"a pipe", w, false},
		{"a buffer", &bytes.Buffer{}, false},
		{"a character device", devNull, true},
	}
	for _, tt := range tests {
		if got := isTerminal(tt.w); got != tt.want {
			t.Errorf("isTerminal(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRunLogsJSONUnlessATerminal runs tallyd with its log going to a buffer, which is no
// terminal: JSON lines by default, text with --log-json=false.
func TestRunLogsJSONUnlessATerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantJSON bool
	}{
		{"default", nil, true},
		{"text asked for", []string{"--log-json=false"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A data directory under a file: storage fails to open after the configuration was logged.
			notDir := filepath.Join(t.TempDir(), "file")
			if err := writeFile(notDir); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			args := append([]string{"--admin-addr=", "--data-dir", notDir + "/data"}, tt.args...)
			if err := run(t.Context(), args, envMap(nil), io.Discard, &logs, nil); err == nil {
				t.Fatal("run served on a data directory under a file")
			}
			first, _, _ := strings.Cut(logs.String(), "\n")
			if got := isJSONLine(first + "\n"); got != tt.wantJSON {
				t.Errorf("JSON: %v, want %v: %q", got, tt.wantJSON, first)
			}
		})
	}
}
