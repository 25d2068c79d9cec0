package eventlog

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
)

// Serve accepts connections on lis until lis is closed, and answers the requests on each, one
// line each: "inc" appends a record and answers the value once the record is durable, "get"
// answers the value; a failure answers "error: ...". A connection takes one request at a time;
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
			_ = serveConn(l, c) // a broken connection ends only itself
		})
	}
}

func serveConn(l *Log, c net.Conn) error {
	in := bufio.NewScanner(c)
	out := bufio.NewWriter(c)
	for in.Scan() {
		var answer string
		switch req := in.Text(); req {
		case "inc":
			if v, err := l.Add(); err != nil {
				answer = "error: " + err.Error()
			} else {
				answer = strconv.FormatInt(v, 10)
			}
		case "get":
			answer = strconv.FormatInt(l.Value(), 10)
		default:
			answer = fmt.Sprintf("error: unknown request %q", req)
		}
		out.WriteString(answer + "\n")
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return in.Err()
}

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
