package systems

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// pipeWriter is a writer process driven over its standard input and output, the way an
// application keeps one process that owns a file: the callers take turns (a mutex), each sending
// one request and reading its answer. Output and errors come back on one pipe.
type pipeWriter struct {
	proc *process
	cmd  func() *exec.Cmd
	// init runs after each start, before any request (e.g. SQLite's per-connection pragmas).
	init func(ctx context.Context) error

	mu  sync.Mutex
	in  *os.File      // the writer's standard input
	out *os.File      // the writer's standard output and error
	r   *bufio.Reader // reads out
}

// errWriterDown is returned while the writer is not running, or after its answers were lost.
var errWriterDown = errors.New("writer process not running")

// start starts the writer with fresh pipes and runs init.
func (w *pipeWriter) start(ctx context.Context) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	w.proc.newCmd = func() *exec.Cmd {
		cmd := w.cmd()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
		return cmd
	}
	err = w.proc.start()
	inR.Close() // the writer has its own copies
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}
	w.mu.Lock()
	w.in, w.out, w.r = inW, outR, bufio.NewReader(outR)
	w.mu.Unlock()
	if w.init != nil {
		if err := w.init(ctx); err != nil {
			return fmt.Errorf("%s: %w%s", w.proc.name, err, w.proc.logTail())
		}
	}
	return nil
}

// exchange sends request and reads answer lines, handing each to done until it returns true.
// Any failure (the writer died, ctx ended, an answer that done rejects) leaves the pipes closed:
// answers might be out of step from then on, so requests fail until the writer is restarted.
func (w *pipeWriter) exchange(ctx context.Context, request string, done func(line string) (bool, error)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.in == nil {
		return errWriterDown
	}
	err := w.exchangeLocked(ctx, request, done)
	if err != nil {
		w.closeLocked()
	}
	return err
}

func (w *pipeWriter) exchangeLocked(ctx context.Context, request string, done func(line string) (bool, error)) error {
	d, _ := ctx.Deadline()
	if err := w.out.SetReadDeadline(d); err != nil {
		return err
	}
	if _, err := w.in.WriteString(request); err != nil {
		return err
	}
	for {
		line, err := w.r.ReadString('\n')
		if err != nil {
			return err
		}
		ok, err := done(strings.TrimRight(line, "\r\n"))
		if err != nil || ok {
			return err
		}
	}
}

func (w *pipeWriter) closeLocked() {
	if w.in != nil {
		w.in.Close()
		w.out.Close()
		w.in, w.out, w.r = nil, nil, nil
	}
}

// kill SIGKILLs the writer.
func (w *pipeWriter) kill() error {
	err := w.proc.kill()
	w.mu.Lock()
	w.closeLocked()
	w.mu.Unlock()
	return err
}

// stop closes the writer's input, which ends it, and waits for it to exit.
func (w *pipeWriter) stop() error {
	w.mu.Lock()
	w.closeLocked()
	w.mu.Unlock()
	return w.proc.shutdown()
}

// intLine is a done function for exchange that takes the first line as the answer, an integer.
func intLine(writer string, v *int64) func(string) (bool, error) {
	return func(line string) (bool, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return false, fmt.Errorf("%s answered %q", writer, line)
		}
		*v = n
		return true, nil
	}
}
