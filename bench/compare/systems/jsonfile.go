package systems

import (
	"context"
	"os/exec"
	"path/filepath"
)

// JSONFile is a counter in a JSON file rewritten for every increment with
// write-temp-fsync-rename and an fsync of the directory (package jsonfile), by one writer process
// that holds a mutex; the clients take turns at it. Writer is the command that runs that process
// (jsonfile.Main) given the file's path as its last argument.
type JSONFile struct {
	Writer []string

	w pipeWriter
}

// NewJSONFile returns JSONFile run by the command writer.
func NewJSONFile(writer ...string) *JSONFile { return &JSONFile{Writer: writer} }

func (j *JSONFile) Name() string { return "JSON file, rename" }

func (j *JSONFile) Start(ctx context.Context, dir string) error {
	file := filepath.Join(dir, "counter.json")
	j.w = pipeWriter{
		proc: &process{name: "jsonfile-writer", log: filepath.Join(dir, "writer.log")},
		cmd: func() *exec.Cmd {
			return exec.Command(j.Writer[0], append(j.Writer[1:len(j.Writer):len(j.Writer)], file)...)
		},
		init: func(ctx context.Context) error { // answers once it has read the file
			_, err := j.Value(ctx)
			return err
		},
	}
	return j.w.start(ctx)
}

func (j *JSONFile) Increment(ctx context.Context, _ int, _ string) error {
	var v int64
	return j.w.exchange(ctx, "inc\n", intLine("jsonfile-writer", &v))
}

func (j *JSONFile) Value(ctx context.Context) (int64, error) {
	var v int64
	err := j.w.exchange(ctx, "get\n", intLine("jsonfile-writer", &v))
	return v, err
}

func (j *JSONFile) Kill() error { return j.w.kill() }

func (j *JSONFile) Restart(ctx context.Context) error { return j.w.start(ctx) }

func (j *JSONFile) Stop() error { return j.w.stop() }
