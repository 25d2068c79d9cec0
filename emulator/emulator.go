// Package emulator runs a durable Firestore emulator in-process: storage, transaction engine and
// google.firestore.v1 gRPC server, listening on a loopback address.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"

	"github.com/tally-dev/tally/emulator/index"
	"github.com/tally-dev/tally/emulator/server"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/ttl"
	"github.com/tally-dev/tally/emulator/txn"
)

// Options configure an emulator.
type Options struct {
	// DataDir holds the durable data. Required unless InMemory.
	DataDir string
	// InMemory keeps everything in memory: fast, and lost on exit.
	InMemory bool
	// Addr is the TCP address to listen on; default "127.0.0.1:0" (a free loopback port).
	Addr string
	// Listener, when set, is used instead of listening on Addr (e.g. a bufconn listener).
	Listener net.Listener
	Logger   *slog.Logger
	// VersionRetention is how far back reads at a read_time may go; default 1h.
	VersionRetention time.Duration
	// TTL policies delete documents whose expiry field has passed, at most one policy per
	// collection group. Production deletes them within about a day; the emulator checks every
	// TTLInterval (default 5s).
	TTL         []ttl.Policy
	TTLInterval time.Duration
	// CheckIndexes makes a query that the declared indexes do not serve fail with
	// FAILED_PRECONDITION, as in production. Off, the emulator answers every query, as Google's
	// emulator does; the firestore-emulator command turns it on unless --no-index-check.
	CheckIndexes bool
	// Indexes are the declared indexes (a parsed firestore.indexes.json) that CheckIndexes
	// checks against. Nil declares none: the automatic single-field indexes serve alone.
	Indexes *index.File
}

// Emulator is a running emulator.
type Emulator struct {
	lis    net.Listener
	grpc   *grpc.Server
	engine *txn.Engine
	store  *storage.Store
	ttl    *ttl.Sweeper
	log    *slog.Logger
	served chan error
	// The control endpoints' HTTP server, on the same port (connmux.go).
	mux        *connMux
	http       *http.Server
	httpServed chan error
}

// maxMessageBytes lets requests above Firestore's 10 MiB limit reach the server, which rejects
// them with INVALID_ARGUMENT rather than gRPC's RESOURCE_EXHAUSTED (which clients retry).
const maxMessageBytes = 64 << 20

// Start opens storage and starts serving. Close it when done.
func Start(ctx context.Context, opts Options) (*Emulator, error) {
	if !opts.InMemory && opts.DataDir == "" {
		return nil, errors.New("emulator: DataDir is required unless InMemory is set")
	}
	// The TTL policies decide which documents storage indexes by expiry time.
	expiry, err := ttl.StorageExpiry(opts.TTL)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if opts.Indexes != nil {
		if err := opts.Indexes.Validate(); err != nil {
			return nil, fmt.Errorf("emulator: index declaration: %w", err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store, err := storage.Open(storage.Options{Dir: opts.DataDir, InMemory: opts.InMemory, Logger: log, Expiry: expiry})
	if err != nil {
		return nil, fmt.Errorf("emulator: opening storage: %w", err)
	}
	lis := opts.Listener
	if lis == nil {
		addr := opts.Addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		if lis, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr); err != nil {
			_ = store.Close()
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	engine := txn.New(txn.Options{Store: store, Logger: log, VersionRetention: opts.VersionRetention})
	sweeper, err := ttl.New(ttl.Options{Engine: engine, Store: store, Policies: opts.TTL, Interval: opts.TTLInterval, Logger: log})
	if err != nil {
		engine.Close()
		if opts.Listener == nil {
			_ = lis.Close()
		}
		return nil, errors.Join(fmt.Errorf("emulator: %w", err), store.Close())
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes))
	var indexes *index.Set
	if opts.CheckIndexes {
		indexes = index.New(opts.Indexes)
	}
	pb.RegisterFirestoreServer(gs, server.New(server.Options{Engine: engine, Logger: log, Indexes: indexes}))
	// One port serves gRPC and the control endpoints, over HTTP/1.1 and h2c (connmux.go).
	mux := newConnMux(lis)
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: controlHandler(engine, gs, log), Protocols: protocols, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	e := &Emulator{lis: lis, grpc: gs, engine: engine, store: store, ttl: sweeper, log: log, served: make(chan error, 1),
		mux: mux, http: hs, httpServed: make(chan error, 1)}
	go func() { e.served <- gs.Serve(mux.grpc) }()
	go func() { e.httpServed <- hs.Serve(mux.http) }()
	sweeper.Start()
	return e, nil
}

// Addr is the address clients connect to (host:port), the value for FIRESTORE_EMULATOR_HOST.
func (e *Emulator) Addr() string { return e.lis.Addr().String() }

// SweepTTL runs one pass of the TTL policies now and returns how many documents it deleted, so
// that tests need not wait for the background interval.
func (e *Emulator) SweepTTL(ctx context.Context) (int, error) {
	return e.ttl.Sweep(ctx)
}

// Close stops the TTL sweeper and serving, letting in-flight calls finish, and closes storage.
// Listen streams end first, with UNAVAILABLE: clients retry, and resume with their resume
// tokens on an emulator restarted on the same data. Everything acknowledged is already
// durable; Close only releases resources.
func (e *Emulator) Close() error {
	e.ttl.Stop()
	// Listen streams never end on their own; GracefulStop would wait for them forever.
	e.engine.EndFeed()
	e.mux.close()
	e.grpc.GracefulStop()
	serveErr := <-e.served
	if errors.Is(serveErr, grpc.ErrServerStopped) {
		serveErr = nil
	}
	serveErr = errors.Join(serveErr, e.http.Close())
	if err := <-e.httpServed; !errors.Is(err, http.ErrServerClosed) {
		serveErr = errors.Join(serveErr, err)
	}
	e.engine.Close()
	// How well group commit shared the fsyncs is the first question about write throughput.
	st := e.store.Stats()
	e.log.Info("emulator stopped", "commits", st.Batches, "fsyncs", st.Flushes)
	return errors.Join(serveErr, e.store.Close())
}
