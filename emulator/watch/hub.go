package watch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/txn"
)

// Engine is the minimum the Hub needs from the transaction engine: its change feed and reads at
// the times the feed names.
type Engine interface {
	AttachFeed(sink txn.Sink)
	StartFeed(ctx context.Context) error
	StopFeed()
	FeedPosition(ctx context.Context) (int64, error)
	FeedSnapshot(db resource.Database, readTime int64) *storage.Snapshot
	OldestFeedReadTime() int64
}

var _ Engine = (*txn.Engine)(nil)

// Options configure a Hub. Zero fields take the defaults documented on each.
type Options struct {
	Engine Engine
	Logger *slog.Logger
	// Heartbeat is how often an idle stream is sent a fresh read time and resume token, so
	// that a client's token stays within the engine's version retention; default 1m.
	Heartbeat time.Duration
	// MaxQueued and MaxQueuedBytes bound the document changes waiting in one stream's queue,
	// by count and by the approximate size of the documents; beyond either, the stream drops
	// its queue and catches up from storage. Defaults 8192 and 4 MiB.
	MaxQueued      int
	MaxQueuedBytes int
}

// Hub fans the engine's change feed out to Listen streams. It is safe for concurrent use.
type Hub struct {
	opts Options

	mu      sync.RWMutex // guards index and targets; Publish holds it for reading
	index   index
	targets int // registered targets; the feed is on while it is positive

	feedMu sync.Mutex // serializes turning the feed on and off

	streamsMu sync.Mutex
	streams   map[*stream]struct{} // streamsMu: live streams, told when the feed loses commits

	closeOnce sync.Once
	closed    chan struct{} // closed by Close
}

var _ txn.Sink = (*Hub)(nil)

// New returns a Hub over opts.Engine, attached to its change feed.
func New(opts Options) *Hub {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Minute
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 8192
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = 4 << 20
	}
	h := &Hub{opts: opts, index: newIndex(), streams: map[*stream]struct{}{}, closed: make(chan struct{})}
	opts.Engine.AttachFeed(h)
	return h
}

// Publish implements txn.Sink: it queues the batch for every stream with a target it concerns.
func (h *Hub) Publish(b *storage.Batch) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.targets == 0 {
		return
	}
	var per map[*stream]*event
	for i := range b.Writes {
		w := &b.Writes[i]
		size := -1 // measured once, if any stream wants the write
		var doc *sharedDoc
		h.index.visit(w.DB, w.Path, func(t *target) {
			if doc == nil {
				doc = &sharedDoc{}
			}
			if per == nil {
				per = map[*stream]*event{}
			}
			ev := per[t.stream]
			if ev == nil {
				ev = &event{time: b.CommitTime}
				per[t.stream] = ev
			}
			if n := len(ev.hits); n == 0 || ev.hits[n-1].write != w {
				if size < 0 {
					size = writeSize(w)
				}
				ev.bytes += size
			}
			ev.hits = append(ev.hits, hit{target: t, write: w, doc: doc})
		})
	}
	for s, ev := range per {
		s.enqueue(*ev)
	}
}

// Lost implements txn.Sink: every stream catches up from storage.
func (h *Hub) Lost(through int64) {
	h.streamsMu.Lock()
	defer h.streamsMu.Unlock()
	for s := range h.streams {
		s.overflow()
	}
}

// Close implements txn.Sink: it ends every stream, and later ones at once, with UNAVAILABLE.
func (h *Hub) Close() {
	h.closeOnce.Do(func() { close(h.closed) })
}

// register adds t to the index, turning the feed on for the first target.
func (h *Hub) register(ctx context.Context, t *target) error {
	h.feedMu.Lock()
	defer h.feedMu.Unlock()
	h.mu.RLock()
	first := h.targets == 0
	h.mu.RUnlock()
	if first {
		if err := h.opts.Engine.StartFeed(ctx); err != nil {
			return err
		}
	}
	h.mu.Lock()
	h.index.add(t)
	h.targets++
	h.mu.Unlock()
	return nil
}

// unregister removes t from the index, turning the feed off after the last target.
func (h *Hub) unregister(t *target) {
	h.feedMu.Lock()
	defer h.feedMu.Unlock()
	h.mu.Lock()
	h.index.remove(t)
	h.targets--
	last := h.targets == 0
	h.mu.Unlock()
	if last {
		h.opts.Engine.StopFeed()
	}
}

func (h *Hub) addStream(s *stream) bool {
	h.streamsMu.Lock()
	defer h.streamsMu.Unlock()
	select {
	case <-h.closed:
		return false
	default:
	}
	h.streams[s] = struct{}{}
	return true
}

func (h *Hub) removeStream(s *stream) {
	h.streamsMu.Lock()
	defer h.streamsMu.Unlock()
	delete(h.streams, s)
}

// writeSize approximates the memory a queued write holds: its name and its fields.
func writeSize(w *storage.Write) int {
	n := 64
	for _, seg := range w.Path {
		n += len(seg) + 16
	}
	for k, v := range w.Next.Fields {
		n += len(k) + 16 + proto.Size(v)
	}
	return n
}

// sharedDoc is the API form of a write's document, built once for every stream that sends it:
// with many listeners on one collection, each commit would otherwise build it for each.
// Marshalling a message from several goroutines at once is safe.
type sharedDoc struct {
	once sync.Once
	doc  *pb.Document
}

func (d *sharedDoc) get(db resource.Database, v *storage.Version) *pb.Document {
	d.once.Do(func() { d.doc = document(db, v) })
	return d.doc
}
