package shard

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
)

// A watch hub serves every watcher of one counter on this server from two Firestore listeners:
// one on the counter's metadata document, one on its shards collection. Two listeners deliver
// separately, each at its own read time, so a state is only ever computed from a configuration
// and shards known to hold at one read time:
//
//   - A shards snapshot at time T is paired with the configuration known to hold at T. Every
//     change of configuration (create, delete, reset, resize, exact mode) rewrites or deletes
//     every shard document 0..shard_count-1 in the commit that changes the metadata (layout.go),
//     with a fresh attempt name, so each of them gets a new update time. A configuration known
//     to hold at time K therefore still holds at T > K if some shard of it, of its generation,
//     was last updated at or before K. Otherwise the hub reads the metadata document as of T (a
//     point-in-time read).
//   - A metadata snapshot at time T that shows a configuration not known yet (a change that
//     rewrites no shard) is paired with the shards read as of T.
//
// States are published in read-time order; a snapshot older than the newest state published is
// only used to learn the configuration. Each listener hands its snapshots to one processing
// goroutine through a slot that keeps the latest, so a burst of commits costs the hub one
// computation, not one per commit, and nothing queues in the hub however fast the counter changes.

// watchHubs are the hubs of one Counters, by counter id.
type watchHubs struct {
	mu       sync.Mutex // guards hubs, closed, watchers
	hubs     map[string]*watchHub
	closed   bool
	watchers int

	listeners  sync.WaitGroup // hub goroutines, for close
	open       atomic.Int64   // Firestore listeners open
	snapshots  atomic.Uint64  // snapshots of shards collections processed
	pointReads atomic.Uint64  // point-in-time reads made to pair configuration and shards
}

// attach adds w to the hub of counter id, starting the hub if id has none.
func (hs *watchHubs) attach(s *Counters, id string, w *Watch) (*watchHub, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.closed {
		return nil, fmt.Errorf("watching counter %q: %w", id, ErrClosed)
	}
	h := hs.hubs[id]
	if h == nil {
		if len(hs.hubs) >= s.opts.MaxWatchedCounters {
			return nil, fmt.Errorf("watching counter %q: %d counters are watched already: %w", id, len(hs.hubs), ErrTooManyWatched)
		}
		if hs.hubs == nil {
			hs.hubs = map[string]*watchHub{}
		}
		h = newWatchHub(s, hs, id)
		hs.hubs[id] = h
		h.start()
	}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	switch {
	case h.err != nil:
		w.fail(h.err)
	case h.state != nil:
		w.offer(h.state)
	}
	h.mu.Unlock()
	hs.watchers++
	return h, nil
}

// close ends every watch with ErrClosed, stops every hub and waits for their goroutines. Watch
// fails with ErrClosed from now on.
func (hs *watchHubs) close() {
	hs.mu.Lock()
	hs.closed = true
	hubs := hs.hubs
	hs.hubs = nil
	hs.mu.Unlock()
	for _, h := range hubs {
		h.fail(fmt.Errorf("watching counter %q: %w", h.id, ErrClosed))
	}
	hs.listeners.Wait()
}

func (hs *watchHubs) stats() WatchStats {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return WatchStats{Hubs: len(hs.hubs), Listeners: int(hs.open.Load()), Watchers: hs.watchers,
		Snapshots: hs.snapshots.Load(), PointReads: hs.pointReads.Load()}
}

// watchHub is the shared state of the watchers of one counter.
type watchHub struct {
	s      *Counters
	hubs   *watchHubs
	id     string
	ctx    context.Context // the listeners' and reads' context, canceled when the hub stops
	cancel context.CancelFunc
	done   chan struct{} // closed when every goroutine of the hub has ended
	ready  chan struct{} // closed when both listeners have delivered and a state is out, or on an error

	// The listeners' latest snapshots, for the processing goroutine.
	inMu    sync.Mutex // guards shards, meta, inErr
	shards  *shardsSnapshot
	meta    *metaSnapshot
	inErr   error
	arrived chan struct{} // capacity 1

	// Only the processing goroutine uses these.
	heardShards, heardMeta bool // each listener has delivered its first snapshot
	known                  knownConfig
	lastRead               time.Time // the newest read time a state was computed for
	lastPublic             *watchState

	mu        sync.Mutex // guards watchers, state, err, readyDone
	watchers  map[*Watch]struct{}
	state     *watchState // the latest state published; nil before the first
	err       error
	readyDone bool
}

// shardsSnapshot is what the hub needs of one snapshot of the shards collection.
type shardsSnapshot struct {
	docs     []watchShard
	readTime time.Time
}

// watchShard is one shard document as a snapshot holds it.
type watchShard struct {
	index      int // -1 if the document's id is not a shard index
	generation string
	count      int64
	counted    bool // count holds an integer
	updateTime time.Time
}

// metaSnapshot is one snapshot of the metadata document.
type metaSnapshot struct {
	exists   bool
	cfg      config
	readTime time.Time
}

// knownConfig is a configuration the hub knows held from cfg.updateTime (the metadata document's
// last change) to at least at.
type knownConfig struct {
	set    bool
	exists bool
	cfg    config
	at     time.Time
}

func newWatchHub(s *Counters, hubs *watchHubs, id string) *watchHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &watchHub{
		s: s, hubs: hubs, id: id, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), ready: make(chan struct{}), arrived: make(chan struct{}, 1),
		watchers: map[*Watch]struct{}{},
	}
}

// start opens the listeners and the processing goroutine. The caller holds hubs.mu.
func (h *watchHub) start() {
	var wg sync.WaitGroup
	wg.Add(3)
	h.hubs.listeners.Add(1)
	h.hubs.open.Add(2)
	go func() {
		defer wg.Done()
		defer h.hubs.open.Add(-1)
		h.listenShards()
	}()
	go func() {
		defer wg.Done()
		defer h.hubs.open.Add(-1)
		h.listenMeta()
	}()
	go func() {
		defer wg.Done()
		h.process()
	}()
	go func() {
		wg.Wait()
		close(h.done)
		h.hubs.listeners.Done()
	}()
}

// detach removes w; the last watcher to leave stops the hub and waits until its listeners are
// closed.
func (h *watchHub) detach(w *Watch) {
	h.hubs.mu.Lock()
	h.mu.Lock()
	delete(h.watchers, w)
	last := len(h.watchers) == 0
	h.mu.Unlock()
	h.hubs.watchers--
	if last && h.hubs.hubs[h.id] == h {
		delete(h.hubs.hubs, h.id)
	}
	h.hubs.mu.Unlock()
	if last {
		h.cancel()
		<-h.done
	}
}

func (h *watchHub) listenShards() {
	it := h.s.shardsRef(h.id).Snapshots(h.ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if err != nil {
			h.deliverErr(err)
			return
		}
		docs, err := snap.Documents.GetAll()
		if err != nil {
			h.deliverErr(err)
			return
		}
		s := &shardsSnapshot{docs: make([]watchShard, len(docs)), readTime: snap.ReadTime}
		for i, d := range docs {
			s.docs[i] = watchShardOf(d)
		}
		h.inMu.Lock()
		h.shards = s
		h.inMu.Unlock()
		h.arrive()
	}
}

func watchShardOf(d *firestore.DocumentSnapshot) watchShard {
	n, err := shardIndex(d.Ref.ID)
	if err != nil {
		n = -1
	}
	data := d.Data()
	gen, _ := data[fieldGeneration].(string)
	count, ok := data[fieldCount].(int64)
	return watchShard{index: n, generation: gen, count: count, counted: ok, updateTime: d.UpdateTime}
}

func (h *watchHub) listenMeta() {
	it := h.s.metaRef(h.id).Snapshots(h.ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if err != nil {
			h.deliverErr(err)
			return
		}
		m := &metaSnapshot{exists: snap.Exists(), readTime: snap.ReadTime}
		if m.exists {
			if m.cfg, err = configOf(snap); err != nil {
				h.deliverErr(err)
				return
			}
		}
		h.inMu.Lock()
		h.meta = m
		h.inMu.Unlock()
		h.arrive()
	}
}

// deliverErr hands a listener's failure to the processing goroutine, unless the hub stopped it.
func (h *watchHub) deliverErr(err error) {
	if h.ctx.Err() != nil {
		return
	}
	h.inMu.Lock()
	if h.inErr == nil {
		h.inErr = err
	}
	h.inMu.Unlock()
	h.arrive()
}

func (h *watchHub) arrive() {
	select {
	case h.arrived <- struct{}{}:
	default:
	}
}

// process computes and publishes the counter's states from the listeners' snapshots, the older
// of the two first.
func (h *watchHub) process() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.arrived:
		}
		h.inMu.Lock()
		shards, meta, err := h.shards, h.meta, h.inErr
		h.shards, h.meta = nil, nil
		h.inMu.Unlock()
		h.heardShards = h.heardShards || shards != nil
		h.heardMeta = h.heardMeta || meta != nil
		if err == nil && meta != nil && (shards == nil || !meta.readTime.After(shards.readTime)) {
			err, meta = h.onMeta(meta), nil
		}
		if err == nil && shards != nil {
			err = h.onShards(shards)
		}
		if err == nil && meta != nil {
			err = h.onMeta(meta)
		}
		if err != nil {
			if h.ctx.Err() != nil {
				return // stopped: the error is the cancellation's
			}
			if !errors.Is(err, ErrOutOfRange) {
				err = classifyUnapplied(err)
			}
			h.fail(fmt.Errorf("watching counter %q: %w", h.id, err))
			return
		}
		if h.heardShards && h.heardMeta {
			// Watchers start once both listeners are open and each has had its say.
			h.mu.Lock()
			if h.state != nil {
				h.markReady()
			}
			h.mu.Unlock()
		}
	}
}

// onShards computes the state at a shards snapshot's read time.
func (h *watchHub) onShards(s *shardsSnapshot) error {
	h.hubs.snapshots.Add(1)
	if !s.readTime.After(h.lastRead) {
		return nil // a newer state is out already
	}
	if h.holdsAt(s) {
		if s.readTime.After(h.known.at) {
			h.known.at = s.readTime
		}
	} else {
		h.hubs.pointReads.Add(1)
		snap, err := h.s.metaRef(h.id).WithReadOptions(firestore.ReadTime(s.readTime)).Get(h.ctx)
		k := knownConfig{set: true, at: s.readTime}
		switch {
		case err == nil:
			if k.cfg, err = configOf(snap); err != nil {
				return err
			}
			k.exists = true
		case !isNotFound(err):
			return fmt.Errorf("reading the metadata as of %v: %w", s.readTime, err)
		}
		h.known = k
	}
	return h.publish(s.docs, s.readTime)
}

// holdsAt says whether the known configuration is known to hold at the snapshot's read time.
func (h *watchHub) holdsAt(s *shardsSnapshot) bool {
	k := h.known
	switch {
	case !k.set || !k.exists:
		// A counter created anew shows only as shards; when its metadata is gone the shards of a
		// deleted counter prove nothing.
		return false
	case !s.readTime.After(k.at):
		return !s.readTime.Before(k.cfg.updateTime)
	}
	for _, d := range s.docs {
		if d.generation == k.cfg.generation && d.index >= 0 && d.index < k.cfg.shardCount && !d.updateTime.After(k.at) {
			return true
		}
	}
	return false
}

// onMeta learns the configuration of a metadata snapshot and, if it is one no state showed yet
// (a change that rewrote no shard), computes the state at its read time from the shards read as
// of then.
func (h *watchHub) onMeta(m *metaSnapshot) error {
	k := h.known
	same := k.set && k.exists == m.exists && (!m.exists || m.cfg.updateTime.Equal(k.cfg.updateTime))
	if same {
		if m.readTime.After(k.at) {
			h.known.at = m.readTime
		}
		return nil
	}
	if !m.readTime.After(h.lastRead) {
		// Older than the newest state. Either the listener lags behind a configuration the shards'
		// path has read already, or it shows a change that rewrote no shard, which breaks the
		// rule the shards' path relies on (layout.go): forget the known configuration, so that
		// the next shards snapshot reads the metadata as of its own time rather than trust it.
		h.known = knownConfig{}
		return nil
	}
	h.known = knownConfig{set: true, exists: m.exists, cfg: m.cfg, at: m.readTime}
	var docs []watchShard
	if m.exists {
		h.hubs.pointReads.Add(1)
		snaps, err := h.s.shardsRef(h.id).WithReadOptions(firestore.ReadTime(m.readTime)).Documents(h.ctx).GetAll()
		if err != nil {
			return fmt.Errorf("reading the shards as of %v: %w", m.readTime, err)
		}
		docs = make([]watchShard, len(snaps))
		for i, d := range snaps {
			docs[i] = watchShardOf(d)
		}
	}
	return h.publish(docs, m.readTime)
}

// publish computes the state at readTime from docs and the known configuration and offers it to
// every watcher, unless it equals the last one published but for its read time.
func (h *watchHub) publish(docs []watchShard, readTime time.Time) error {
	h.lastRead = readTime
	st := &watchState{counter: Counter{ID: h.id, ReadTime: readTime}, deleted: !h.known.exists}
	if h.known.exists {
		st.counter = *counterOf(h.id, h.known.cfg)
		st.counter.ReadTime = readTime
		var sum int64
		for _, d := range docs {
			if d.generation != h.known.cfg.generation || !d.counted {
				continue
			}
			v, ok := addInt64(sum, d.count, 0)
			if !ok {
				return fmt.Errorf("the total of counter %q does not fit in int64: %w", h.id, ErrOutOfRange)
			}
			sum = v
		}
		st.counter.Value = sum
	}
	if prev := h.lastPublic; prev != nil && sameState(prev, st) {
		return nil
	}
	h.lastPublic = st
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = st
	for w := range h.watchers {
		w.offer(st)
	}
	return nil
}

// sameState says whether a and b differ only in their read times. Every field of Counter
// counts, including any added later.
func sameState(a, b *watchState) bool {
	x, y := a.counter, b.counter
	x.ReadTime, y.ReadTime = time.Time{}, time.Time{}
	return a.deleted == b.deleted && reflect.DeepEqual(x, y)
}

// fail ends every watcher of the hub with err and stops the hub; a later Watch of the counter
// starts a new one.
func (h *watchHub) fail(err error) {
	h.hubs.mu.Lock()
	if h.hubs.hubs[h.id] == h {
		delete(h.hubs.hubs, h.id)
	}
	h.hubs.mu.Unlock()
	h.mu.Lock()
	if h.err == nil {
		h.err = err
		for w := range h.watchers {
			w.fail(err)
		}
	}
	h.markReady()
	h.mu.Unlock()
	h.cancel()
}

// markReady closes ready once. The caller holds h.mu.
func (h *watchHub) markReady() {
	if !h.readyDone {
		h.readyDone = true
		close(h.ready)
	}
}
