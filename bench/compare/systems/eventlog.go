package systems

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
)

// EventLog is a counter kept as an append-only log file with a record per increment, by one
// server process (package eventlog) that acknowledges an increment once its record is written
// and fdatasynced, sharing each fdatasync among the increments that arrived meanwhile (group
// commit); the value is the number of records. The clients call it over a TCP connection each.
// Server is the command that runs that process (eventlog.Main) given the address and the file's
// path as its last two arguments.
type EventLog struct {
	Server []string

	proc  *process
	conns *perClient
}

var _ System = (*EventLog)(nil)

// NewEventLog returns EventLog run by the command server.
func NewEventLog(server ...string) *EventLog { return &EventLog{Server: server} }

func (e *EventLog) Name() string { return "Event log, group commit" }

func (e *EventLog) Start(ctx context.Context, dir string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append(e.Server[1:len(e.Server):len(e.Server)], addr, filepath.Join(dir, "counter.log"))
	e.conns = newPerClient(addr)
	e.proc = &process{
		name:   "eventlog-server",
		log:    filepath.Join(dir, "server.log"),
		newCmd: func() *exec.Cmd { return exec.Command(e.Server[0], args...) },
	}
	return e.Restart(ctx)
}

func (e *EventLog) Increment(ctx context.Context, client int, _ string) error {
	_, err := e.ask(ctx, client, "inc")
	return err
}

func (e *EventLog) Value(ctx context.Context) (int64, error) { return e.ask(ctx, -1, "get") }

// ask sends request on client's connection and reads the integer it answers.
func (e *EventLog) ask(ctx context.Context, client int, request string) (int64, error) {
	var v int64
	err := e.conns.do(ctx, client, func(c *lineConn) error {
		if _, err := c.w.WriteString(request + "\n"); err != nil {
			return err
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if v, err = strconv.ParseInt(line, 10, 64); err != nil {
			return fmt.Errorf("eventlog-server: %s answered %q", request, line)
		}
		return nil
	})
	return v, err
}

func (e *EventLog) Kill() error { return e.proc.kill() }

func (e *EventLog) Restart(ctx context.Context) error {
	if err := e.proc.start(); err != nil {
		return err
	}
	return e.proc.waitReady(ctx, func(ctx context.Context) error {
		_, err := e.Value(ctx)
		return err
	})
}

func (e *EventLog) Stop() error {
	e.conns.closeAll()
	return e.proc.shutdown()
}
