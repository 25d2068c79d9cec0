package main

import (
	"context"

	"google.golang.org/grpc"

	"github.com/tally-dev/tally/internal/telemetry"
	"github.com/tally-dev/tally/service"
)

// newGRPCServer is tallyd's gRPC server, without services: the limits of cfg, the service's
// codec, and the interceptors. extra are added after tallyd's own options; interceptors among
// them run inside tallyd's.
//
// The service's codec is gRPC's own except for UpdateCounterRequest: it lets an update_mask path
// that is not valid UTF-8 (FieldMask's strings are checked by protobuf) reach validation, which
// answers INVALID_ARGUMENT naming the path instead of gRPC's INTERNAL. counter.proto's own
// strings are not checked by protobuf and need no help (see service/codec.go).
//
// Stop waits for the handlers to return (WaitForHandlers), so that none still uses the store when
// storage closes; calls tells shutdown which calls it waits for or cuts off.
//
// The limiter comes first, so that a shed call costs nothing more; the default deadline last of
// tallyd's own, so that it bounds only what runs after it. A refused watch is counted as shed
// through the call limiter's callback, with the reason watch_limit.
func newGRPCServer(cfg *Config, limit *limiter, calls *openCalls, extra ...grpc.ServerOption) *grpc.Server {
	deadline := defaultDeadline(cfg.DefaultDeadline)
	limit.watches = newLimiter(cfg.MaxWatches, shedFor(limit.onShed, telemetry.ShedReasonWatches))
	opts := append(limitOptions(cfg),
		grpc.ForceServerCodecV2(service.Codec()),
		grpc.WaitForHandlers(true),
		grpc.ChainUnaryInterceptor(limit.unary, calls.unary, deadline.unary),
		grpc.ChainStreamInterceptor(limit.stream, watchLimiter{limit.watches}.stream, calls.stream, deadline.stream),
	)
	return grpc.NewServer(append(opts, extra...)...)
}

// shedFor is the callback that counts a refusal through onShed (the call limit's) with reason
// in place of the call limit's own; nil if onShed is.
func shedFor(onShed func(context.Context), reason string) func(context.Context) {
	if onShed == nil {
		return nil
	}
	return func(ctx context.Context) { onShed(telemetry.WithShedReason(ctx, reason)) }
}
