package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/client"
)

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// unreachableError is an RPC that never reached the server (exit code 3): no
// connection could be made before the call failed or its deadline passed.
type unreachableError struct {
	addr string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %s", e.addr, status.Convert(e.err).Message())
}

func (e *unreachableError) Unwrap() error { return e.err }

// report prints err, if any, to stderr and returns the exit code for it. cmd
// is the command that failed, nil before one was chosen.
func report(stderr io.Writer, cmd *command, err error) int {
	if err == nil {
		return exitOK
	}
	var usage *usageError
	var unreachable *unreachableError
	var unsure *unsureWriteError
	switch {
	case errors.As(err, &unsure):
		code := report(stderr, cmd, unsure.err)
		fmt.Fprintln(stderr, "tally:", unsure.hint())
		return code
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "tally:", usage.msg)
		if cmd != nil {
			fmt.Fprintf(stderr, "usage: %s\n", cmd.synopsis())
		} else {
			fmt.Fprintln(stderr, "Run 'tally help' for usage.")
		}
		return exitUsage
	case errors.As(err, &unreachable):
		fmt.Fprintln(stderr, "tally:", unreachable)
		return exitUnreachable
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "tally: interrupted")
		return exitFailed
	}
	st, ok := status.FromError(err)
	var answered *client.Error
	if errors.As(err, &answered) {
		// The last attempt's status as the server gave it, whatever wraps it.
		st, ok = answered.GRPCStatus(), true
	}
	if !ok {
		fmt.Fprintln(stderr, "tally:", err)
		return exitFailed
	}
	msg := st.Message()
	if errors.Is(err, context.DeadlineExceeded) && st.Code() != codes.DeadlineExceeded {
		msg += " (retries ended at the --timeout)"
	}
	fmt.Fprintf(stderr, "tally: %s: %s\n", code.Code(st.Code()), msg)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fmt.Fprintf(stderr, "  %s: %s\n", v.GetField(), v.GetDescription())
			}
		}
	}
	return exitFailed
}
