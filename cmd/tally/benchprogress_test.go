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
		w.add(time.Duration(i+1)*time.Millisecond, true)
	}
	line := progressText(3*time.Second, 500*time.Millisecond, w, 7)
	// The p99 of 1ms to 100ms is 99ms, to the histogram's precision.
	if want := "   3.0s  200 calls/s  p99 98.8ms  errors 0 (7 in all)"; line != want {
		t.Errorf("progress text %q, want %q", line, want)
	}
	// 1,000 failures answered at once are errors, not latencies: the p99 is
	// that of the 10 successful calls, 100ms to the histogram's precision.
	w = window{}
	for i := range 10 {
		w.add(time.Duration(i+1)*10*time.Millisecond, true)
	}
	for range 1000 {
		w.add(10*time.Microsecond, false)
	}
	if want := "   3.0s  20 calls/s  p99 99.9ms  errors 1,000 (1,007 in all)"; progressText(3*time.Second, 500*time.Millisecond, w, 1007) != want {
		t.Errorf("progress text with fast failures %q, want %q", progressText(3*time.Second, 500*time.Millisecond, w, 1007), want)
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
