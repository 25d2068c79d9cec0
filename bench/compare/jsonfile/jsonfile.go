// Package jsonfile is the JSON-file strategy for a durable counter: one process keeps the value
// in a JSON file and, for every increment, under a mutex, writes the new document to a temporary
// file, fsyncs it, renames it over the old file and fsyncs the directory, so that after a crash
// the file holds either the old or the new document, never a torn one.
//
// Serve drives a Counter over a line protocol, which makes it the writer process of the
// comparison: "inc" adds 1 and answers the new value once it is durable, "get" answers the
// value.
package jsonfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/tally-dev/tally/bench/compare/lineproto"
)

// document is the file's content.
type document struct {
	Value int64 `json:"value"`
}

// Counter is a counter stored in one JSON file.
type Counter struct {
	path string

	mu    sync.Mutex
	value int64
}

// Open reads the counter in path, or starts one at 0 when the file does not exist. A temporary
// file left by a crash is ignored: the rename that would have made it current never happened.
func Open(path string) (*Counter, error) {
	c := &Counter{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, err
	}
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.value = d.Value
	return c, nil
}

// Value returns the counter's value.
func (c *Counter) Value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// Add adds delta and returns the new value once the file holding it is durable. If writing
// fails, the value stays as it was.
func (c *Counter) Add(delta int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.value + delta
	if err := write(c.path, document{Value: next}); err != nil {
		return c.value, err
	}
	c.value = next
	return next, nil
}

// write replaces the file at path by d: write a temporary file, fsync it, rename it over path,
// fsync the directory (which makes the rename durable).
func write(path string, d document) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// Serve answers the requests read from r on w in the line protocol (package lineproto) until r
// ends: "inc" adds 1 and answers the new value, "get" answers the value.
func Serve(c *Counter, r io.Reader, w io.Writer) error {
	return lineproto.Serve(byOne{c}, r, w)
}

// byOne serves a Counter through the line protocol, whose increments are by 1.
type byOne struct{ *Counter }

func (c byOne) Inc() (int64, error) { return c.Add(1) }

var _ lineproto.Counter = byOne{}

// Main is the writer process: it serves the counter in the file args[0] on standard input and
// output, and returns the exit code.
func Main(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: jsonfile-writer FILE")
		return 2
	}
	c, err := Open(args[0])
	if err == nil {
		err = Serve(c, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsonfile-writer:", err)
		return 1
	}
	return 0
}
