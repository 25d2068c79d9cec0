package service

import (
	"log/slog"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Options configure a Server.
type Options struct {
	// Counters serves every request. Without one, every RPC fails with INTERNAL.
	Counters Counters
	// Logger receives server faults (errors answered with INTERNAL); nil discards them.
	Logger *slog.Logger
}

// Server implements tally.v1.CounterService: it validates each request, calls Counters and
// converts the result or maps the error to a gRPC status.
type Server struct {
	tallyv1.UnimplementedCounterServiceServer

	counters Counters
	log      *slog.Logger
}

var _ tallyv1.CounterServiceServer = (*Server)(nil)

// New returns a Server over opts.Counters.
func New(opts Options) *Server {
	s := &Server{counters: opts.Counters, log: opts.Logger}
	if s.counters == nil {
		s.counters = unconfigured{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}
