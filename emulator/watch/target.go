package watch

import (
	"context"
	"slices"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/storage"
)

// Target is a validated target a client adds to its stream: a set of documents or a query.
type Target struct {
	// ID identifies the target on the stream; 0 asks the stream to choose one.
	ID int32
	// Documents are the paths of a document target.
	Documents [][]string
	// Query is a query target's compiled query; nil for a document target.
	Query *query.Query
	// ResumeToken or ReadTime (µs) ask for only what changed since the client's view at that
	// time; a token or time the emulator can no longer serve resets the target instead.
	ResumeToken []byte
	ReadTime    int64
	// Once removes the target as soon as it is current.
	Once bool
}

// target is a Target registered on a stream, with what its client has been told.
type target struct {
	id     int32
	stream *stream
	docs   [][]string   // document target
	query  *query.Query // query target
	parent []string     // the query's parent, for collection group lookups
	once   bool

	// The fields below belong to the stream's goroutine.
	known map[string]int64 // document name → update time of the version the client has
	asOf  int64            // the client's view is exact up to this commit time
	dirty bool             // a windowed query whose result must be read again
}

func newTarget(s *stream, spec *Target) *target {
	t := &target{id: spec.ID, stream: s, docs: spec.Documents, query: spec.Query, once: spec.Once, known: map[string]int64{}}
	if t.query != nil {
		t.parent, _, _ = t.query.Scope()
	}
	return t
}

// windowed reports whether the target's result depends on more than each document alone.
func (t *target) windowed() bool { return t.query != nil && t.query.Windowed() }

// includes reports whether the live or deleted version v belongs to the target's result,
// judging v alone; v.Path must be set.
func (t *target) includes(v *storage.Version) bool {
	if v.Deleted {
		return false
	}
	if t.query == nil {
		return true // the index only finds document targets by the names they list
	}
	return t.query.Matches(v)
}

// output is what the client is sent for a result v.
func (t *target) output(v *storage.Version) *storage.Version {
	if t.query == nil {
		return v
	}
	return t.query.Output(v)
}

// result reads the target's result at snap, calling emit for each document in order.
func (t *target) result(ctx context.Context, snap *storage.Snapshot, emit func(*storage.Version) error) error {
	if t.query != nil {
		return t.query.Run(ctx, snap, emit)
	}
	for _, p := range t.docs {
		v, err := snap.Get(p)
		if err != nil {
			return err
		}
		if v != nil {
			if err := emit(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// resultTimes reads the names and update times of the target's result at snap.
func (t *target) resultTimes(ctx context.Context, snap *storage.Snapshot) (map[string]int64, error) {
	out := map[string]int64{}
	db := t.stream.db
	err := t.result(ctx, snap, func(v *storage.Version) error {
		out[db.DocumentName(v.Path)] = v.UpdateTime
		return nil
	})
	return out, err
}

// resync brings the client's view of t to the state at snap (read time at), sending what
// differs from what the client has. It reports whether it sent anything.
func (t *target) resync(ctx context.Context, snap *storage.Snapshot, at int64) (bool, error) {
	s := t.stream
	db := s.db
	next := make(map[string]int64, len(t.known))
	sent := false
	err := t.result(ctx, snap, func(v *storage.Version) error {
		name := db.DocumentName(v.Path)
		next[name] = v.UpdateTime
		if ut, ok := t.known[name]; ok && ut == v.UpdateTime {
			return nil
		}
		sent = true
		return s.sendDoc(&pb.DocumentChange{Document: document(db, v), TargetIds: []int32{t.id}})
	})
	if err != nil {
		return sent, err
	}
	var gone []string
	for name := range t.known {
		if _, ok := next[name]; !ok {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone) // a deterministic order, for clients and tests alike
	for _, name := range gone {
		if err := s.sendGone(snap, name, []int32{t.id}, at); err != nil {
			return true, err
		}
		sent = true
	}
	t.known = next
	t.asOf = at
	t.dirty = false
	return sent, nil
}
