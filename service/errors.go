package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/shard"
)

// internalMessage is all a client learns of a server fault; the detail goes to the log only.
const internalMessage = "internal error"

// errorKinds maps the core's sentinel errors to status codes. The message is built here rather
// than taken from the error, because the core may wrap its sentinels around Firestore errors
// whose text is not for clients. %s is the subject the handler named (see about).
var errorKinds = []struct {
	err    error
	code   codes.Code
	format string
}{
	{shard.ErrNotFound, codes.NotFound, "%s does not exist"},
	{shard.ErrAlreadyExists, codes.AlreadyExists, "%s already exists"},
	{shard.ErrKeyReused, codes.FailedPrecondition, "%s: the idempotency key was already used for a different request"},
	{shard.ErrReadTimeTooOld, codes.FailedPrecondition, "%s: read_time is older than the storage keeps versions for (an hour, or the point-in-time recovery window)"},
	{shard.ErrOutOfRange, codes.OutOfRange, "%s: the value would leave the int64 range; nothing was applied"},
	{shard.ErrTooLarge, codes.InvalidArgument, "%s: the request is larger than one commit may be; nothing was applied, send fewer increments per batch"},
	{shard.ErrOverloaded, codes.ResourceExhausted, "%s: too many queued increments; nothing was applied, retry with backoff"},
	{shard.ErrContention, codes.Aborted, "%s: too much contention; nothing was applied, retry"},
	{shard.ErrUnknownOutcome, codes.Unavailable, "%s: the outcome of the write is unknown; retry with the same idempotency key to apply it exactly once"},
	{shard.ErrUnavailable, codes.Unavailable, "%s: storage is unavailable; nothing was applied, retry with backoff"},
	{shard.ErrClosed, codes.Unavailable, "%s: the server is shutting down; nothing was applied, retry"},
	{context.Canceled, codes.Canceled, "%s: the request was canceled"},
	{context.DeadlineExceeded, codes.DeadlineExceeded, "%s: the deadline expired before the request completed"},
}

// subjectError records what a failed call was about, so that status messages can name the
// counter without repeating the core's own message.
type subjectError struct {
	subject string
	err     error
}

func (e *subjectError) Error() string { return e.subject + ": " + e.err.Error() }
func (e *subjectError) Unwrap() error { return e.err }

// about tags err with the subject its status message names, e.g. `counter "counters/a"`.
func about(subject string, err error) error {
	return &subjectError{subject: subject, err: err}
}

// counterSubject is the subject of an error about one counter.
func counterSubject(id string) string { return fmt.Sprintf("counter %q", resourceName(id)) }

// toStatus turns any error of a handler into the gRPC status the client receives. Unknown
// errors are logged with their detail and answered with a bare INTERNAL.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var field *fieldError
	if errors.As(err, &field) {
		return badRequest(field.field, field.msg)
	}
	if errors.Is(err, shard.ErrBadPageToken) {
		// The one argument only the core can check: the token encodes the prefix and view it was
		// issued for.
		return badRequest("page_token", "is malformed or was issued for a different prefix or view")
	}
	if errors.Is(err, shard.ErrBadReadTime) {
		// Only the storage can tell: by its clock the time is in the future, or, beyond the last
		// hour, it reads only at whole minutes.
		return badRequest(readTimeField, "the storage cannot read at this time: it must not be in the future, "+
			"and beyond the last hour it must be a whole minute")
	}
	var arg *shard.ArgError
	if errors.As(err, &arg) && arg.Arg == "at" {
		// Whether a read time is valid depends on the clock: the core, judging a moment later,
		// may refuse a time validation accepted (one that has just passed an hour ago).
		return badRequest(readTimeField, arg.Msg)
	}
	subject := "request"
	var tagged *subjectError
	if errors.As(err, &tagged) {
		subject = tagged.subject
	}
	method, ok := grpc.Method(ctx)
	if !ok {
		method = "unknown"
	}
	for _, kind := range errorKinds {
		if errors.Is(err, kind.err) {
			if kind.err == shard.ErrUnknownOutcome {
				// The cause is usually Firestore being unreachable, which operators want to see.
				log.WarnContext(ctx, "write outcome unknown", "method", method, "error", err)
			}
			return status.Error(kind.code, validUTF8(fmt.Sprintf(kind.format, subject)))
		}
	}
	if errors.As(err, &arg) {
		// Validation (validate.go) refuses everything the core would, naming the API field, so
		// this is a gap there. The core names its Go argument, which means nothing to a client.
		log.ErrorContext(ctx, "the core refused an argument that validation let through", "method", method, "error", err)
		return status.Error(codes.InvalidArgument, validUTF8(subject+": invalid argument"))
	}
	if errors.Is(err, shard.ErrInvalidArgument) {
		// No argument named; the core's sentinel text is all there is.
		return status.Error(codes.InvalidArgument, validUTF8(err.Error()))
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The client went away or ran out of time and the failure most likely followed from it;
		// answer as if the core had said so, and keep the detail out of the error log.
		log.DebugContext(ctx, "request failed after its context ended", "method", method, "error", err)
		return toStatus(ctx, log, about(subject, ctxErr))
	}
	log.ErrorContext(ctx, "internal error", "method", method, "error", err)
	return status.Error(codes.Internal, internalMessage)
}

// badRequest is an INVALID_ARGUMENT that carries the offending field as a google.rpc.BadRequest
// detail, for clients that act on the field rather than parse the message.
func badRequest(field, msg string) error {
	field, msg = validUTF8(field), validUTF8(msg)
	st := status.New(codes.InvalidArgument, field+": "+msg)
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}},
	})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}

// validUTF8 keeps messages sendable: a status travels as a protobuf message, whose strings must
// be valid UTF-8, and rejected input may not be.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
