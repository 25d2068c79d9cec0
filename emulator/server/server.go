// Package server is the emulator's gRPC surface: it validates google.firestore.v1 requests,
// calls the transaction engine and the query engine, and turns their errors into statuses.
package server

import (
	"log/slog"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/emulator/txn"
	"github.com/tally-dev/tally/emulator/watch"
)

// Server implements google.firestore.v1.Firestore. RPCs it does not implement (Write,
// PartitionQuery, ExecutePipeline) answer UNIMPLEMENTED.
type Server struct {
	pb.UnimplementedFirestoreServer
	engine  *txn.Engine
	log     *slog.Logger
	indexes *index.Set
	watch   *watch.Hub // Listen streams; the engine's EndFeed ends them
}

var _ pb.FirestoreServer = (*Server)(nil)

// Options configure a Server.
type Options struct {
	Engine *txn.Engine
	Logger *slog.Logger // nil = discard
	// Indexes, when set, are the declared indexes queries are checked against, as production
	// checks them: a query they do not serve fails with FAILED_PRECONDITION. Nil answers every
	// query, as Google's emulator does.
	Indexes *index.Set
}

// New returns a Server over opts.Engine.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{engine: opts.Engine, log: log, indexes: opts.Indexes,
		watch: watch.New(watch.Options{Engine: opts.Engine, Logger: log})}
}
