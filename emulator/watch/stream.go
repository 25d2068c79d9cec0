package watch

import (
	"context"
	"sync"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/resource"
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
