package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Watching a counter (WatchCounter): a watcher gets the counter's current value, then every
// change, each with the read time it holds at, at most one update per interval and always the
// latest value. The Firestore listeners behind it are shared: every watcher of one counter on
// this server reads from one hub (watch_hub.go), which listens to the counter's metadata document
// and its shards collection and computes each new state once.

// DefaultMaxWatchedCounters is the default of Options.MaxWatchedCounters: 80 listeners, which
// leave a single connection to Cloud Firestore (about 100 streams) room for its reads.
const DefaultMaxWatchedCounters = 40

// ErrTooManyWatched: a watch would take this server past Options.MaxWatchedCounters.
var ErrTooManyWatched = errors.New("too many counters watched on this server")

// WatchUpdate is one update of a watched counter.
type WatchUpdate struct {
	// Counter holds the counter with its value as of Counter.ReadTime. When Deleted, only ID and
	// ReadTime are set.
	Counter *Counter
	// Deleted says the counter did not exist at Counter.ReadTime. The watch goes on and reports
	// the counter again if it is created anew.
	Deleted bool
}

// WatchStats counts the watches of a Counters: those open now, and the work of their hubs since
// New.
type WatchStats struct {
	Hubs      int // counters watched, each with its own shared listeners
	Listeners int // Firestore listeners open (two per hub, until the hub has stopped them)
	Watchers  int // watches open

	Snapshots  uint64 // snapshots of counters' shards the hubs processed
	PointReads uint64 // point-in-time reads they needed to pair a configuration with shards
}

// Watch is one watcher of a counter: Next returns its updates. Close it when done; the last
// watcher of a counter to close stops the counter's Firestore listeners.
//
// A watcher holds at most one update that it has not yet returned, the latest: one that does
// not call Next (a client that stopped reading) costs the same memory however many changes it
// misses, and it slows nobody.
type Watch struct {
	hub      *watchHub
	interval time.Duration
	notify   chan struct{} // capacity 1: a new update or an error is waiting
	ended    chan struct{} // closed when err is set

	mu      sync.Mutex // guards pending, err
	pending *watchState
	err     error

	// Only the goroutine calling Next uses these.
	sent     bool
	lastSent time.Time

	closeOnce sync.Once
}

// watchState is a counter's state at one read time, shared by every watcher it is offered to
// and never modified.
type watchState struct {
	counter Counter // ID and ReadTime only when deleted
	deleted bool
}

func (st *watchState) update() WatchUpdate {
	c := st.counter
	return WatchUpdate{Counter: &c, Deleted: st.deleted}
}

// Watch starts watching counter id: the first Next returns its current value. minInterval is the
// least time between two updates; 0 takes Options.WatchInterval, and anything below
// Options.MinWatchInterval is raised to it. It fails with ErrNotFound if the counter does not
// exist, ErrClosed once Close has begun, ErrTooManyWatched past Options.MaxWatchedCounters,
// ErrUnavailable if Firestore cannot be reached.
func (s *Counters) Watch(ctx context.Context, id string, minInterval time.Duration) (*Watch, error) {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return nil, err
	}
	if minInterval < 0 {
		return nil, invalid("minInterval", fmt.Sprintf("is %v; it must not be negative", minInterval))
	}
	w := &Watch{interval: s.watchInterval(minInterval), notify: make(chan struct{}, 1), ended: make(chan struct{})}
	h, err := s.watches.attach(s, id, w)
	if err != nil {
		return nil, err
	}
	w.hub = h
	select {
	case <-h.ready:
	case <-ctx.Done():
		w.Close()
		return nil, ctx.Err()
	}
	w.mu.Lock()
	first, err := w.pending, w.err
	w.mu.Unlock()
	switch {
	case err != nil:
		w.Close()
		return nil, err
	case first == nil || first.deleted:
		// Not found at start is an error; a delete after the start is an update.
		w.Close()
		return nil, fmt.Errorf("counter %q: %w", id, ErrNotFound)
	}
	return w, nil
}

// watchInterval is the interval a watcher that asked for d gets.
func (s *Counters) watchInterval(d time.Duration) time.Duration {
	if d == 0 {
		d = s.opts.WatchInterval
	}
	return max(d, s.opts.MinWatchInterval)
}

// WatchStats returns the counts of the watches open now.
func (s *Counters) WatchStats() WatchStats { return s.watches.stats() }

// Next returns the next update: the latest state of the counter not yet returned, no sooner
// than the watch's interval after the previous update. It fails when ctx ends, when the watch
// was closed (ErrClosed) or with the error that ended the counter's listeners (ErrUnavailable,
// ErrClosed when the store closes, ErrOutOfRange if the shards add up beyond int64).
func (w *Watch) Next(ctx context.Context) (WatchUpdate, error) {
	for {
		w.mu.Lock()
		st, err := w.pending, w.err
		w.mu.Unlock()
		switch {
		case err != nil:
			return WatchUpdate{}, err
		case st == nil:
			select {
			case <-w.notify:
			case <-ctx.Done():
				return WatchUpdate{}, ctx.Err()
			}
			continue
		}
		if wait := time.Until(w.lastSent.Add(w.interval)); w.sent && wait > 0 {
			// Coalescing: whatever arrives meanwhile replaces st, and the latest goes out. New
			// states do not wake the wait (on a busy counter that would be a wake-up per change
			// per watcher, which the interval is there to save); the watch's end (Close, the store
			// closing, the listeners failing) does, and must not wait for the interval's end.
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-w.ended:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
				return WatchUpdate{}, ctx.Err()
			}
			continue
		}
		w.mu.Lock()
		st, w.pending = w.pending, nil
		w.mu.Unlock()
		if st == nil {
			continue // taken by nobody else, but be safe against a reset by fail
		}
		w.sent, w.lastSent = true, time.Now()
		return st.update(), nil
	}
}

// Close ends the watch. It is safe to call more than once and concurrently with Next, which then
// fails with ErrClosed.
func (w *Watch) Close() {
	w.closeOnce.Do(func() {
		w.fail(fmt.Errorf("the watch was closed: %w", ErrClosed))
		if w.hub != nil {
			w.hub.detach(w)
		}
	})
}

// offer makes st the update Next returns next, replacing one not yet returned.
func (w *Watch) offer(st *watchState) {
	w.mu.Lock()
	if w.err == nil {
		w.pending = st
	}
	w.mu.Unlock()
	w.wake()
}

// fail ends the watch with err; the first error stays.
func (w *Watch) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err, w.pending = err, nil
		close(w.ended)
	}
	w.mu.Unlock()
	w.wake()
}

func (w *Watch) wake() {
	select {
	case w.notify <- struct{}{}:
	default: // a wake-up is already waiting
	}
}
