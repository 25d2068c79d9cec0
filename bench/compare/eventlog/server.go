package eventlog

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/tally-dev/tally/bench/compare/lineproto"
)

// Serve accepts connections on lis until lis is closed, and answers the requests on each in the
// line protocol (package lineproto): "inc" appends a record and answers the value once the
// record is durable. A connection takes one request at a time;
// Adds from different connections share flushes.
func Serve(l *Log, lis net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := lis.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer c.Close()
			_ = lineproto.Serve(logCounter{l}, c, c) // a broken connection ends only itself
		})
	}
}

// logCounter serves a Log through the line protocol.
type logCounter struct{ *Log }

func (c logCounter) Inc() (int64, error) { return c.Add() }

var _ lineproto.Counter = logCounter{}

// Main is the server process: it opens the log in the file args[1], serves it on the TCP address
// args[0] (127.0.0.1:PORT) and returns the exit code. It runs until it is killed.
func Main(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: eventlog-server 127.0.0.1:PORT FILE")
		return 2
	}
	l, err := Open(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "eventlog-server:", err)
		return 1
	}
	defer l.Close()
	lis, err := net.Listen("tcp", args[0])
	if err == nil {
		err = Serve(l, lis)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eventlog-server:", err)
		return 1
	}
	return 0
}
