package service

import (
	"context"
	"log/slog"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Options configure a Server.
type Options struct {
	// Counters serves every request. Without one, every RPC fails with INTERNAL.
	Counters Counters
	// Logger receives server faults (errors answered with INTERNAL); nil discards them.
	Logger *slog.Logger
	// MaxBatchNames bounds the names in one BatchIncrement or BatchGetCounters below the API's
	// own maximums (shard.MaxBatchDeltas and shard.MaxBatchGet), so that an operator can cap the
	// work one call brings; the lower of the two applies. 0 (or less) leaves the API's maximums.
	MaxBatchNames int
	// OnShed is called, if set, for a call refused because the server is at a limit of its own
	// (RESOURCE_EXHAUSTED, nothing applied): a watch of one more counter than the core may
	// watch at once.
	OnShed func(context.Context)
}

// Server implements tally.v1.CounterService: it validates each request, calls Counters and
// converts the result or maps the error to a gRPC status.
type Server struct {
	tallyv1.UnimplementedCounterServiceServer

	counters Counters
	log      *slog.Logger
	onShed   func(context.Context) // never nil
	// The most names a BatchIncrement and a BatchGetCounters may hold.
	maxBatchIncrement, maxBatchGet int
}

var _ tallyv1.CounterServiceServer = (*Server)(nil)

// New returns a Server over opts.Counters.
func New(opts Options) *Server {
	s := &Server{
		counters:          opts.Counters,
		log:               opts.Logger,
		maxBatchIncrement: batchLimit(opts.MaxBatchNames, shard.MaxBatchDeltas),
		maxBatchGet:       batchLimit(opts.MaxBatchNames, shard.MaxBatchGet),
	}
	if s.counters == nil {
		s.counters = unconfigured{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.onShed = opts.OnShed
	if s.onShed == nil {
		s.onShed = func(context.Context) {}
	}
	return s
}

// batchLimit is the lower of a configured limit and the API's maximum; a configured limit of 0
// or less is none.
func batchLimit(configured, apiMax int) int {
	if configured > 0 && configured < apiMax {
		return configured
	}
	return apiMax
}
