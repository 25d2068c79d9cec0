package watch

import (
	"context"
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
)

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
