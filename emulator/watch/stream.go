package watch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// Request is one thing a client asks of its stream, already validated by the caller.
type Request struct {
	Add    *Target // add a target
	Reject *Reject // a target the caller could not accept
	Remove int32   // remove the target with this id, when Add and Reject are nil
	// Err ends the stream with this error (a malformed request).
	Err error
}

// Reject is a target that failed validation: the client is told with a REMOVE carrying Cause.
type Reject struct {
	ID    int32
	Cause *spb.Status
}

// event is one commit's writes that concern one stream.
type event struct {
	time  int64
	hits  []hit
	bytes int // approximate size of the documents written
}

// hit is a write that may concern a target.
type hit struct {
	target *target
	write  *storage.Write
	doc    *sharedDoc // the write's document as sent, shared by every hit of the write
}

// deliverySlots bounds the streams delivering commits at once. With many listeners, every
// commit wakes every stream it concerns; were they all to run at once, the commits themselves
// would get a sliver of the CPU. With fewer running, a stream finds more commits queued when its
// turn comes and sends each changed document once, so delivery adapts to the load.
var deliverySlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// slowSend is how long a send may wait for its client before the stream gives its delivery
// slot back: a client that does not read must not hold up the others.
const slowSend = 10 * time.Millisecond

// slot is a stream's hold on a delivery slot. The timer gives it back when a send is slow.
type slot struct {
	mu    sync.Mutex
	held  bool // mu
	timer *time.Timer
}

func (sl *slot) acquire(ctx context.Context) error {
	select {
	case deliverySlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	sl.mu.Lock()
	sl.held = true
	sl.mu.Unlock()
	return nil
}

// release gives the slot back if the stream still holds it.
func (sl *slot) release() {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.held {
		sl.held = false
		<-deliverySlots
	}
}

// stream is one Listen call.
type stream struct {
	hub  *Hub
	db   resource.Database
	send func(*pb.ListenResponse) error
	slot slot

	// Owned by the stream's goroutine.
	targets map[int32]*target
	time    int64 // every target is exact as of this commit time
	nextID  int32

	mu          sync.Mutex
	events      []event // mu: queued by the hub, in commit order
	queued      int     // mu: hits in events
	queuedBytes int     // mu: bytes of events
	resync      bool    // mu: events were dropped; catch up from storage
	wake        chan struct{}
}

// Serve runs one Listen stream over database db until reqs is closed (nil error), ctx ends, a
// request carries an error, or the Hub closes (UNAVAILABLE, which clients retry).
func (h *Hub) Serve(ctx context.Context, db resource.Database, reqs <-chan Request, send func(*pb.ListenResponse) error) error {
	s := &stream{hub: h, db: db, send: send, targets: map[int32]*target{}, nextID: 1, wake: make(chan struct{}, 1)}
	if !h.addStream(s) {
		return errShuttingDown
	}
	ctx, cancel := context.WithCancel(ctx)
	s.slot.timer = time.AfterFunc(time.Hour, s.slot.release)
	s.slot.timer.Stop()
	rawSend := send
	s.send = func(r *pb.ListenResponse) error {
		// Every send may give the slot back: while the stream holds none, that is a no-op.
		s.slot.timer.Reset(slowSend)
		err := rawSend(r)
		s.slot.timer.Stop()
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer h.removeStream(s)
		defer s.removeAll()
		done <- s.run(ctx, reqs)
	}()
	select {
	case err := <-done:
		cancel()
		return err
	case <-h.closed:
		// Return even if the stream's goroutine is blocked sending to a client that does not
		// read: ending the call unblocks it.
		cancel()
		return errShuttingDown
	}
}

var errShuttingDown = status.Error(codes.Unavailable, "the emulator is shutting down")

func (s *stream) run(ctx context.Context, reqs <-chan Request) error {
	heartbeat := time.NewTicker(s.hub.opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r, ok := <-reqs:
			if !ok {
				return nil
			}
			if err := s.handle(ctx, r); err != nil {
				return err
			}
		case <-s.wake:
			if err := s.deliver(ctx); err != nil {
				return err
			}
		case <-heartbeat.C:
			if err := s.heartbeat(ctx); err != nil {
				return err
			}
		}
	}
}

// deliver sends what the queue holds, in a delivery slot.
func (s *stream) deliver(ctx context.Context) error {
	if err := s.slot.acquire(ctx); err != nil {
		return err
	}
	defer s.slot.release()
	sent, err := s.catchUp(ctx)
	if err == nil && sent {
		err = s.sendSnapshot()
	}
	return err
}

func (s *stream) handle(ctx context.Context, r Request) error {
	switch {
	case r.Err != nil:
		return r.Err
	case r.Reject != nil:
		return s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_REMOVE, TargetIds: []int32{r.Reject.ID}, Cause: r.Reject.Cause})
	case r.Add != nil:
		return s.add(ctx, r.Add)
	default:
		return s.remove(r.Remove)
	}
}

// add registers a target, brings the client's view of it to the stream's current time, and
// marks the stream consistent.
func (s *stream) add(ctx context.Context, spec *Target) error {
	if spec.ID == 0 {
		for s.targets[s.nextID] != nil {
			s.nextID++
		}
		spec.ID = s.nextID
	} else if s.targets[spec.ID] != nil {
		return status.Errorf(codes.InvalidArgument, "target_id %d is already in use on this stream", spec.ID)
	}
	t := newTarget(s, spec)
	if err := s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_ADD, TargetIds: []int32{t.id}}); err != nil {
		return err
	}
	if err := s.hub.register(ctx, t); err != nil {
		return feedError(err)
	}
	s.targets[t.id] = t
	// Registered first, then the position: every commit after it reaches the target's queue.
	at, err := s.hub.opts.Engine.FeedPosition(ctx)
	if err != nil {
		return feedError(err)
	}
	snap := s.hub.opts.Engine.FeedSnapshot(s.db, at)
	resumed, err := s.baseline(ctx, t, spec, at)
	if err != nil {
		return err
	}
	if _, err := t.resync(ctx, snap, at); err != nil {
		return err
	}
	if resumed {
		// The client can check that it holds as many documents as the target has.
		if err := s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_Filter{Filter: &pb.ExistenceFilter{TargetId: t.id, Count: int32(len(t.known))}}}); err != nil {
			return err
		}
	}
	s.time = max(s.time, at)
	// The other targets may have commits up to the position still queued.
	if _, err := s.catchUp(ctx); err != nil {
		return err
	}
	if err := s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_CURRENT, TargetIds: []int32{t.id}, ResumeToken: encodeToken(s.time), ReadTime: timestampOf(s.time)}); err != nil {
		return err
	}
	if err := s.sendSnapshot(); err != nil {
		return err
	}
	if t.once {
		return s.remove(t.id)
	}
	return nil
}

// baseline sets what the client already has of t: the result at the time its resume token or
// read time names, or nothing. It reports whether the target resumed; a resume point the
// emulator cannot serve any more resets the client's view instead.
func (s *stream) baseline(ctx context.Context, t *target, spec *Target, at int64) (bool, error) {
	from := spec.ReadTime
	if len(spec.ResumeToken) > 0 {
		var ok bool
		if from, ok = decodeToken(spec.ResumeToken); !ok {
			from = -1
		}
	}
	if from == 0 {
		return false, nil
	}
	if from < 0 || from > at || from < s.hub.opts.Engine.OldestFeedReadTime() {
		return false, s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_RESET, TargetIds: []int32{t.id}})
	}
	known, err := t.resultTimes(ctx, s.hub.opts.Engine.FeedSnapshot(s.db, from))
	if err != nil {
		return false, err
	}
	t.known = known
	return true, nil
}

func (s *stream) remove(id int32) error {
	t := s.targets[id]
	if t == nil {
		return status.Errorf(codes.InvalidArgument, "remove_target: no target with id %d on this stream", id)
	}
	delete(s.targets, id)
	s.hub.unregister(t)
	return s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_REMOVE, TargetIds: []int32{id}})
}

func (s *stream) removeAll() {
	for id, t := range s.targets {
		delete(s.targets, id)
		s.hub.unregister(t)
	}
}

// heartbeat moves an idle stream's read time and resume token forward.
func (s *stream) heartbeat(ctx context.Context) error {
	if len(s.targets) == 0 {
		return nil
	}
	at, err := s.hub.opts.Engine.FeedPosition(ctx)
	if err != nil {
		return feedError(err)
	}
	// Every commit up to the position is queued already; apply them first.
	if _, err := s.catchUp(ctx); err != nil {
		return err
	}
	s.time = max(s.time, at)
	return s.sendSnapshot()
}

// enqueue is called by the hub for a commit that concerns the stream. It never blocks: past
// the bound, the queue is dropped and the stream will catch up from storage.
func (s *stream) enqueue(ev event) {
	s.mu.Lock()
	switch {
	case s.resync:
	case s.queued+len(ev.hits) > s.hub.opts.MaxQueued || s.queuedBytes+ev.bytes > s.hub.opts.MaxQueuedBytes:
		s.dropLocked()
	default:
		s.events = append(s.events, ev)
		s.queued += len(ev.hits)
		s.queuedBytes += ev.bytes
	}
	s.mu.Unlock()
	s.notify()
}

// overflow drops the queue: the feed lost commits.
func (s *stream) overflow() {
	s.mu.Lock()
	s.dropLocked()
	s.mu.Unlock()
	s.notify()
}

func (s *stream) dropLocked() {
	s.events = nil
	s.queued, s.queuedBytes = 0, 0
	s.resync = true
}

func (s *stream) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// catchUp applies what is queued, or after an overflow reads every target again. It reports
// whether anything was sent, after which the stream owes its client a consistent snapshot.
func (s *stream) catchUp(ctx context.Context) (bool, error) {
	s.mu.Lock()
	events, resync := s.events, s.resync
	s.events, s.queued, s.queuedBytes, s.resync = nil, 0, 0, false
	s.mu.Unlock()
	if resync {
		return true, s.resyncAll(ctx)
	}
	sent := false
	for _, w := range newestWrites(events) {
		n, err := s.applyWrite(w.time, w.hits)
		if err != nil {
			return sent, err
		}
		sent = sent || n
	}
	if len(events) > 0 {
		s.time = max(s.time, events[len(events)-1].time)
	}
	// Windowed queries whose documents changed are read again at the newest time applied.
	for _, t := range s.targets {
		if !t.dirty {
			continue
		}
		n, err := t.resync(ctx, s.hub.opts.Engine.FeedSnapshot(s.db, s.time), s.time)
		if err != nil {
			return sent, err
		}
		sent = sent || n
	}
	return sent, nil
}

// resyncAll reads every target again at the feed's position, after the stream dropped commits.
func (s *stream) resyncAll(ctx context.Context) error {
	at, err := s.hub.opts.Engine.FeedPosition(ctx)
	if err != nil {
		return feedError(err)
	}
	at = max(at, s.time)
	snap := s.hub.opts.Engine.FeedSnapshot(s.db, at)
	for _, t := range s.targets {
		if _, err := t.resync(ctx, snap, at); err != nil {
			return err
		}
	}
	s.time = at
	return nil
}

// timedWrite is one document's write in a commit and the targets it may concern.
type timedWrite struct {
	time int64
	hits []hit
}

// newestWrites lists the writes of events (hits of one write are adjacent), keeping only each
// document's newest: clients see snapshots, and a snapshot holds only the newest state, so a
// stream that fell behind sends each changed document once. A stream that keeps up has one
// commit per batch and drops nothing.
func newestWrites(events []event) []timedWrite {
	var out []timedWrite
	var seen map[string]bool
	if len(events) > 1 {
		seen = map[string]bool{}
	}
	for e := len(events) - 1; e >= 0; e-- {
		ev := events[e]
		for j := len(ev.hits); j > 0; {
			i := j - 1
			for i > 0 && ev.hits[i-1].write == ev.hits[j-1].write {
				i--
			}
			if seen != nil {
				key := strings.Join(ev.hits[i].write.Path, "/")
				if seen[key] {
					j = i
					continue
				}
				seen[key] = true
			}
			out = append(out, timedWrite{time: ev.time, hits: ev.hits[i:j]})
			j = i
		}
	}
	slices.Reverse(out)
	return out
}

// applyWrite sends what one written document means for the targets in hits.
func (s *stream) applyWrite(at int64, hits []hit) (bool, error) {
	w := hits[0].write
	v := w.Next
	v.Path = w.Path
	name := s.db.DocumentName(w.Path)
	var added, removed []int32
	var projected []*target
	for _, h := range hits {
		t := h.target
		if s.targets[t.id] != t || at <= t.asOf {
			continue // removed since, or already part of the client's view
		}
		if t.windowed() {
			t.dirty = true
			continue
		}
		if t.includes(&v) {
			t.known[name] = v.UpdateTime
			if t.output(&v) != &v {
				projected = append(projected, t)
			} else {
				added = append(added, t.id)
			}
			continue
		}
		if _, had := t.known[name]; had {
			delete(t.known, name)
			removed = append(removed, t.id)
		}
	}
	switch {
	case len(added) > 0:
		if err := s.sendDoc(&pb.DocumentChange{Document: hits[0].doc.get(s.db, &v), TargetIds: added, RemovedTargetIds: removed}); err != nil {
			return false, err
		}
	case len(removed) > 0 && v.Deleted:
		if err := s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentDelete{DocumentDelete: &pb.DocumentDelete{Document: name, RemovedTargetIds: removed, ReadTime: timestampOf(at)}}}); err != nil {
			return false, err
		}
	case len(removed) > 0:
		if err := s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentRemove{DocumentRemove: &pb.DocumentRemove{Document: name, RemovedTargetIds: removed, ReadTime: timestampOf(at)}}}); err != nil {
			return false, err
		}
	}
	for _, t := range projected {
		if err := s.sendDoc(&pb.DocumentChange{Document: document(s.db, t.output(&v)), TargetIds: []int32{t.id}}); err != nil {
			return false, err
		}
	}
	return len(added)+len(removed)+len(projected) > 0, nil
}

// sendGone tells the client that the document name left the targets ids at time at: deleted,
// or still there but no longer a result.
func (s *stream) sendGone(snap *storage.Snapshot, name string, ids []int32, at int64) error {
	_, path, err := resource.ParseDocumentName(name)
	if err != nil {
		return fmt.Errorf("watch: a known document has a bad name: %w", err)
	}
	v, err := snap.Get(path)
	if err != nil {
		return err
	}
	if v == nil {
		return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentDelete{DocumentDelete: &pb.DocumentDelete{Document: name, RemovedTargetIds: ids, ReadTime: timestampOf(at)}}})
	}
	return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentRemove{DocumentRemove: &pb.DocumentRemove{Document: name, RemovedTargetIds: ids, ReadTime: timestampOf(at)}}})
}

// sendSnapshot tells the client that all its targets are consistent at the stream's time.
func (s *stream) sendSnapshot() error {
	if len(s.targets) == 0 || s.time == 0 {
		return nil
	}
	return s.sendTarget(&pb.TargetChange{TargetChangeType: pb.TargetChange_NO_CHANGE, ResumeToken: encodeToken(s.time), ReadTime: timestampOf(s.time)})
}

func (s *stream) sendTarget(tc *pb.TargetChange) error {
	return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_TargetChange{TargetChange: tc}})
}

func (s *stream) sendDoc(dc *pb.DocumentChange) error {
	return s.send(&pb.ListenResponse{ResponseType: &pb.ListenResponse_DocumentChange{DocumentChange: dc}})
}

// feedError turns a failure of the engine's feed into the status the client sees: retryable,
// as the emulator is ending or storage failed.
func feedError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return status.Errorf(codes.Unavailable, "listening is not available: %v", err)
}
