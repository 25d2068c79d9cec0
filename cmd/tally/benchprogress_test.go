package main

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	var w window
	for i := range 100 {
		w.add(time.Duration(i+1)*time.Millisecond, i != 0)
	}
	line := progressText(3*time.Second, 500*time.Millisecond, w, 7)
	// The p99 of 1ms to 100ms is 99ms, to the histogram's precision.
	if want := "   3.0s  198 calls/s  p99 98.8ms  errors 1 (7 in all)"; line != want {
		t.Errorf("progress text %q, want %q", line, want)
	}
	if want := "   1.0s  0 calls/s  p99 -  errors 0 (0 in all)"; progressText(time.Second, time.Second, window{}, 0) != want {
		t.Errorf("progress text of an empty interval %q, want %q", progressText(time.Second, time.Second, window{}, 0), want)
	}

	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"a terminal rewrites the line", true, "\rfirst\x1b[K\rsecond\x1b[K\n"},
		{"a file gets lines", false, "first\nsecond\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			p := &progressLine{w: &b, terminal: tc.terminal}
			p.show("first")
			p.show("second")
			p.end()
			if b.String() != tc.want {
				t.Errorf("wrote %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	file, err := os.Create(t.TempDir() + "/file")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	tests := []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"a regular file", file, false},
		{"a buffer", &bytes.Buffer{}, false},
		{"a character device", null, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTerminal(tc.w); got != tc.want {
				t.Errorf("isTerminal = %v, want %v", got, tc.want)
			}
		})
	}
}
