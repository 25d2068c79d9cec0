package txn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// Sink receives the change feed: every commit's batch once it is durable, in commit-time order.
// Its methods are called from one goroutine and must not block for long: commits do not wait
// for the sink, but the feed's backlog is bounded, and a sink that falls behind is told what it
// lost instead of being handed everything.
type Sink interface {
	// Publish hands over a durable batch. The batch is shared and must not be modified.
	Publish(b *storage.Batch)
	// Lost reports that commits up to and including commit time through were not published
	// because the sink fell behind; what they changed must be read back from storage.
	Lost(through int64)
	// Close ends the feed: the sink should end whatever it serves (EndFeed was called).
	Close()
}

// ErrFeedEnded is returned by StartFeed and FeedPosition once EndFeed was called or storage
// failed: the feed publishes nothing more.
var ErrFeedEnded = errors.New("txn: the change feed has ended")

// maxFeedBacklog bounds the batches waiting to be published. Beyond it, further batches are
// collapsed into one Lost notice, so memory does not grow with a slow sink.
const maxFeedBacklog = 4096

// feed is the engine's side of the change feed. While on is false, commits pay only the load of
// on.
type feed struct {
	on atomic.Bool // set while a sink listens; read by every commit

	mu       sync.Mutex
	ended    sync.Cond    // signalled whenever a publication ends; L is &mu
	sink     Sink         // mu
	closed   bool         // mu: EndFeed was called
	started  bool         // mu: the publisher goroutine runs
	queue    []*feedEntry // mu: sequenced batches not yet published, in commit order
	busy     bool         // mu: the publisher is inside the sink with queue[0]
	lastDone int64        // mu: every commit at or before it is published or was durable before the feed started
	failure  error        // mu: storage failed; nothing more is published
	wake     chan struct{}
	done     chan struct{} // closed when the publisher goroutine returns

	backlog int // maxFeedBacklog, or a test's smaller bound
}

// feedEntry is a batch waiting to be published, or a run of batches the sink will not get.
type feedEntry struct {
	batch  *storage.Batch // nil when lost
	time   int64          // commit time (the newest one, for a lost run)
	ticket ticket
	lost   bool
}

// AttachFeed makes sink the receiver of the change feed (one sink per engine; a later call
// replaces it). The feed stays off until StartFeed. Once the feed has ended, sink is closed at
// once.
func (e *Engine) AttachFeed(sink Sink) {
	f := &e.feed
	f.mu.Lock()
	ended := f.closed || f.failure != nil
	if !ended {
		f.sink = sink
	}
	f.mu.Unlock()
	if ended {
		sink.Close()
	}
}

// StartFeed turns the change feed on for the attached sink. It returns once every commit
// sequenced before it is durable: from then on, FeedPosition describes the feed.
func (e *Engine) StartFeed(ctx context.Context) error {
	f := &e.feed
	f.mu.Lock()
	if f.closed || f.failure != nil || f.sink == nil {
		f.mu.Unlock()
		return ErrFeedEnded
	}
	if !f.started {
		f.started = true
		f.ended.L = &f.mu
		f.wake = make(chan struct{}, 1)
		f.done = make(chan struct{})
		go e.publishFeed()
	}
	f.mu.Unlock()

	e.seqMu.Lock()
	if f.on.Load() {
		e.seqMu.Unlock()
		return nil
	}
	f.mu.Lock()
	// Commits up to lastTime are not in the feed; they count as published once durable.
	f.lastDone = max(f.lastDone, e.lastTime)
	f.mu.Unlock()
	f.on.Store(true)
	last := e.lastTicket
	e.seqMu.Unlock()
	if last != nil {
		return waitTicket(ctx, last)
	}
	return nil
}

// StopFeed turns the feed off: later commits are not published. Batches already queued still
// are.
func (e *Engine) StopFeed() {
	e.seqMu.Lock()
	e.feed.on.Store(false)
	e.seqMu.Unlock()
}

// EndFeed turns the feed off for good and closes its sink, which ends the streams it serves.
// The emulator calls it before stopping its gRPC server, which would otherwise wait for them.
func (e *Engine) EndFeed() {
	e.StopFeed()
	f := &e.feed
	f.mu.Lock()
	sink := f.sink
	f.closed = true
	f.mu.Unlock()
	if sink != nil {
		sink.Close()
	}
}

// FeedPosition returns a commit time P that splits the feed: every commit at or before P has
// been handed to the sink (or was durable before the feed started), and every later commit will
// be handed to it after FeedPosition returns. Reads at P see durable data. Call it only while
// the feed is on.
func (e *Engine) FeedPosition(ctx context.Context) (int64, error) {
	f := &e.feed
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		e.seqMu.Lock()
		f.mu.Lock()
		if f.failure != nil {
			err := f.failure
			f.mu.Unlock()
			e.seqMu.Unlock()
			return 0, err
		}
		if len(f.queue) == 0 && !f.busy {
			// Everything sequenced is published: now is a position, reserved so that no later
			// commit is stamped at or before it.
			t := max(e.opts.Now().UnixMicro(), e.lastTime, f.lastDone)
			e.lastTime = t
			f.mu.Unlock()
			e.seqMu.Unlock()
			return t, nil
		}
		e.seqMu.Unlock()
		for f.busy {
			f.ended.Wait()
		}
		if len(f.queue) > 0 && f.failure == nil {
			t := f.lastDone
			f.mu.Unlock()
			return t, nil
		}
		f.mu.Unlock()
	}
}

// OldestFeedReadTime is the oldest time at which a read of the whole state is still safe: reads
// at or after it find every version they need, even while garbage collection runs.
func (e *Engine) OldestFeedReadTime() int64 {
	// The margin keeps a read that starts now ahead of a collection that starts meanwhile.
	const margin = 10_000_000 // 10s in µs
	return e.opts.Now().Add(-e.opts.VersionRetention).UnixMicro() + margin
}

// FeedSnapshot returns storage's view of db at readTime, for a caller that chose readTime with
// FeedPosition, or checked it against OldestFeedReadTime: it is not validated further.
func (e *Engine) FeedSnapshot(db resource.Database, readTime int64) *storage.Snapshot {
	return e.store.Snapshot(db, readTime)
}

// appendFeedLocked queues a submitted batch for publication. Caller holds seqMu, so batches
// queue in commit order.
func (e *Engine) appendFeedLocked(b *storage.Batch, tk ticket) {
	f := &e.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failure != nil || !f.started {
		return
	}
	n := len(f.queue)
	switch {
	case n > 1 && f.queue[n-1].lost:
		// Already behind: widen the lost run (never the head, which the publisher may hold).
		last := f.queue[n-1]
		last.time, last.ticket = b.CommitTime, tk
	case n >= f.maxBacklog():
		f.queue = append(f.queue, &feedEntry{time: b.CommitTime, ticket: tk, lost: true})
	default:
		f.queue = append(f.queue, &feedEntry{batch: b, time: b.CommitTime, ticket: tk})
	}
	if n == 0 {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

func (f *feed) maxBacklog() int {
	if f.backlog > 0 {
		return f.backlog
	}
	return maxFeedBacklog
}

// publishFeed hands queued batches to the sink once they are durable, one at a time, in order.
func (e *Engine) publishFeed() {
	f := &e.feed
	defer close(f.done)
	for {
		f.mu.Lock()
		for len(f.queue) == 0 {
			f.mu.Unlock()
			select {
			case <-e.stop:
				return
			case <-f.wake:
			}
			f.mu.Lock()
		}
		head := f.queue[0]
		f.mu.Unlock()
		select {
		case <-head.ticket.Done():
		case <-e.stop:
			return
		}
		f.mu.Lock()
		if err := head.ticket.Err(); err != nil {
			f.failure = errorf(KindInternal, "storage failed: %v", err)
			f.queue = nil
			f.ended.Broadcast()
			sink := f.sink
			f.mu.Unlock()
			// Nothing more will be published; the sink ends its streams.
			sink.Close()
			return
		}
		f.busy = true
		sink := f.sink
		f.mu.Unlock()
		if head.lost {
			sink.Lost(head.time)
		} else {
			sink.Publish(head.batch)
		}
		f.mu.Lock()
		f.busy = false
		f.lastDone = max(f.lastDone, head.time)
		f.queue[0] = nil
		f.queue = f.queue[1:]
		f.ended.Broadcast()
		f.mu.Unlock()
	}
}

// stopFeedPublisher waits for the publisher goroutine to return; e.stop is already closed.
func (e *Engine) stopFeedPublisher() {
	f := &e.feed
	f.mu.Lock()
	f.closed = true
	started := f.started
	f.mu.Unlock()
	if started {
		<-f.done
	}
}
