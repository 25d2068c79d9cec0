package client

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The kinds of failure a call reports. Test for them with errors.Is: every error the server
// answers matches exactly one of them, and ErrCanceled and ErrDeadlineExceeded also match
// context.Canceled and context.DeadlineExceeded.
var (
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrOutOfRange         = errors.New("out of range")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrResourceExhausted  = errors.New("resource exhausted")
	ErrAborted            = errors.New("aborted")
	ErrUnavailable        = errors.New("unavailable")
	ErrDeadlineExceeded   = errors.New("deadline exceeded")
	ErrCanceled           = errors.New("canceled")
	ErrUnimplemented      = errors.New("unimplemented")
	ErrInternal           = errors.New("internal error")
	ErrUnknown            = errors.New("unknown error")
)

// kinds maps each gRPC code to its error; codes not listed are ErrUnknown.
var kinds = map[codes.Code]error{
	codes.InvalidArgument:    ErrInvalidArgument,
	codes.NotFound:           ErrNotFound,
	codes.AlreadyExists:      ErrAlreadyExists,
	codes.OutOfRange:         ErrOutOfRange,
	codes.FailedPrecondition: ErrFailedPrecondition,
	codes.PermissionDenied:   ErrPermissionDenied,
	codes.Unauthenticated:    ErrUnauthenticated,
	codes.ResourceExhausted:  ErrResourceExhausted,
	codes.Aborted:            ErrAborted,
	codes.Unavailable:        ErrUnavailable,
	codes.DeadlineExceeded:   ErrDeadlineExceeded,
	codes.Canceled:           ErrCanceled,
	codes.Unimplemented:      ErrUnimplemented,
	codes.Internal:           ErrInternal,
	codes.DataLoss:           ErrInternal,
}

// Error is a failure the server (or the gRPC transport) reported. Its message is the status
// message; errors.Is matches its kind (ErrNotFound, ...).
type Error struct {
	kind  error
	st    *status.Status
	cause error
}

// FieldViolation names a request field the server refused, and why.
type FieldViolation struct {
	Field       string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tally: %s: %s", e.kind, e.st.Message())
}

// Message is the server's message, without the kind.
func (e *Error) Message() string { return e.st.Message() }

// FieldViolations lists the request fields the server named as invalid, if any.
func (e *Error) FieldViolations() []FieldViolation {
	var out []FieldViolation
	for _, d := range e.st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return out
}

// Is matches the error's kind, and the context's errors for a cancellation or deadline.
func (e *Error) Is(target error) bool {
	switch {
	case target == e.kind:
		return true
	case e.kind == ErrCanceled:
		return target == context.Canceled
	case e.kind == ErrDeadlineExceeded:
		return target == context.DeadlineExceeded
	}
	return false
}

// Unwrap returns the error the gRPC call returned, for callers that want the status itself.
func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus is the status the server answered; status.FromError uses it.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// convert turns an error of a gRPC call into an *Error; errors that carry no status (a
// context's, or one of an interceptor's own) are returned as they are.
func convert(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	kind, known := kinds[st.Code()]
	if !known {
		kind = ErrUnknown
	}
	return &Error{kind: kind, st: st, cause: err}
}
