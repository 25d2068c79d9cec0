package ttl

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
)

// DefaultInterval is how often a started Sweeper runs a pass when Options.Interval is zero.
const DefaultInterval = 5 * time.Second

// Engine is what a sweep needs from the transaction engine: a snapshot to find expired documents
// and conditional deletes.
type Engine interface {
	OpenSnapshot(ctx context.Context, db resource.Database, sel txn.Selector) (*txn.Snapshot, error)
	BatchWrite(ctx context.Context, db resource.Database, writes []txn.Write) (*txn.CommitResult, []error, error)
}

// Store lists the databases a pass visits and, through the expiry index it keeps for the
// policies (see StorageExpiry), the documents due to expire.
type Store interface {
	Databases() iter.Seq2[resource.Database, error]
	Expiring(db resource.Database, until int64, after *storage.ExpiringDoc) iter.Seq2[storage.ExpiringDoc, error]
	ExpiryConfig() string
}

var (
	_ Engine = (*txn.Engine)(nil)
	_ Store  = (*storage.Store)(nil)
)

// Options configure a Sweeper. Engine and Store are required.
type Options struct {
	Engine Engine
	Store  Store
	// Policies apply to every database; New refuses a set that ValidatePolicies refuses.
	Policies []Policy
	// Interval is the time between passes of a started Sweeper; default DefaultInterval.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock expiry times are compared with; default time.Now.
	Now func() time.Time
}

// Sweeper deletes expired documents, in passes over every database and policy. A document
// expires when its policy field holds a timestamp at or before the pass's start; a missing field
// or a value of another type never expires. Subcollections of an expired document are kept, as
// a delete of the document alone keeps them.
type Sweeper struct {
	opts     Options
	policies []compiledPolicy
	byGroup  map[string]compiledPolicy

	passMu sync.Mutex // one pass at a time

	runMu   sync.Mutex
	cancel  context.CancelFunc // runMu: stops the background loop; nil until Start
	done    chan struct{}      // runMu: closed when the background loop has returned
	stopped bool               // runMu: Stop was called; Start is then a no-op

	// beforeDelete, when set (by tests), runs between finding a batch of expired documents and
	// deleting them.
	beforeDelete func(db resource.Database, writes []txn.Write)
}

// New validates opts and returns a Sweeper that runs passes on demand until Start.
func New(opts Options) (*Sweeper, error) {
	if opts.Engine == nil {
		return nil, errors.New("ttl: Options.Engine is required")
	}
	if opts.Store == nil {
		return nil, errors.New("ttl: Options.Store is required")
	}
	policies, err := compile(opts.Policies)
	if err != nil {
		return nil, err
	}
	if len(policies) > 0 && opts.Store.ExpiryConfig() != indexConfig(policies) {
		return nil, errors.New("ttl: the store keeps no expiry index for these policies; open it with Options.Expiry from StorageExpiry")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sweeper{opts: opts, policies: policies, byGroup: groupPolicies(policies)}, nil
}

// Start runs a pass every Interval in the background until Stop. Without policies, or when
// already started or stopped, it does nothing.
func (s *Sweeper) Start() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.cancel != nil || s.stopped || len(s.policies) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.loop(ctx, s.done)
}

// Stop ends the background loop, cancelling a pass in progress, and returns once it has exited.
// It is safe to call more than once, and without Start.
func (s *Sweeper) Stop() {
	s.runMu.Lock()
	s.stopped = true
	cancel, done := s.cancel, s.done
	s.runMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *Sweeper) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := s.Sweep(ctx)
		if n > 0 {
			s.opts.Logger.Info("ttl: deleted expired documents", "count", n)
		}
		if err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("ttl: sweep failed; retrying next interval", "err", err)
		}
	}
}
