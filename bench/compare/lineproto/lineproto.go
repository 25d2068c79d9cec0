// Package lineproto is the line protocol of the comparison's own counter processes (the JSON
// file's writer and the event log's server): a request per line, "inc" to add 1 and answer the
// new value, "get" to answer the value, and "error: ..." for a failure or an unknown request.
package lineproto

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Counter is what the protocol serves.
type Counter interface {
	Inc() (int64, error) // adds 1 durably and returns the new value
	Value() int64
}

// Serve answers the requests read from r on w, one line each, until r ends.
func Serve(c Counter, r io.Reader, w io.Writer) error {
	in := bufio.NewScanner(r)
	out := bufio.NewWriter(w)
	for in.Scan() {
		var answer string
		switch req := in.Text(); req {
		case "inc":
			if v, err := c.Inc(); err != nil {
				answer = "error: " + err.Error()
			} else {
				answer = strconv.FormatInt(v, 10)
			}
		case "get":
			answer = strconv.FormatInt(c.Value(), 10)
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
