package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/txn"
)

// invalidArgument is a request error that names the offending field.
type invalidArgument struct {
	field string
	msg   string
}

func (e *invalidArgument) Error() string { return e.field + ": " + e.msg }

func invalid(field, msg string) error { return &invalidArgument{field: field, msg: msg} }

func notFound(msg string) error { return status.Error(codes.NotFound, msg) }

// toStatus is the one place where errors become gRPC statuses. It never produces UNAVAILABLE or
// RESOURCE_EXHAUSTED: the official client retries Commit on those codes, and a Commit that was
// applied would then be applied twice.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ia *invalidArgument
	if errors.As(err, &ia) {
		st := status.New(codes.InvalidArgument, ia.Error())
		if detailed, derr := st.WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: ia.field, Description: ia.msg}},
		}); derr == nil {
			st = detailed
		}
		return st.Err()
	}
	if errors.Is(err, query.ErrInvalid) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	switch txn.KindOf(err) {
	case txn.KindInvalidArgument:
		return status.Error(codes.InvalidArgument, err.Error())
	case txn.KindNotFound:
		return status.Error(codes.NotFound, err.Error())
	case txn.KindAlreadyExists:
		return status.Error(codes.AlreadyExists, err.Error())
	case txn.KindFailedPrecondition:
		return status.Error(codes.FailedPrecondition, err.Error())
	case txn.KindAborted:
		return status.Error(codes.Aborted, err.Error())
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the request was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the request's deadline passed")
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		if c := s.Code(); c != codes.Unavailable && c != codes.ResourceExhausted {
			return s.Err()
		}
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}
