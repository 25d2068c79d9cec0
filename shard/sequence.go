package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The one commit sequence, shared by the coalescing lanes (many requests of one counter) and
// BatchIncrement (one request over many counters):
//
//	plan on the cached state → shard writes, creations and records → commit
//	→ on failure read back → applied (an attempt name is there)? answer
//	→ records of earlier requests found? replay them → the rest again: fast while only the
//	  configuration moved on, under locks (locked.go) once another writer raced for a shard.
//
// Requests that the fast path cannot take (near the int64 bounds, a counter in exact mode) go
// straight to the locked path.

// maxAttempts bounds how often one set of requests is re-planned after conflicting writes.
const maxAttempts = 10

// request is one caller's atomic unit: its deltas on one or more counters are applied all
// together or not at all, with its idempotency record if it has a key.
type request struct {
	parts       []part // at most one per counter
	key         string
	fingerprint string
	record      *firestore.DocumentRef // nil without a key
	answer      func(WriteResult, error)
	ins         *instruments // counts the answer
}

// finish answers the request, once.
func (r *request) finish(res WriteResult, err error) {
	r.answer(res, err)
	r.ins.answered(res, err)
}

type part struct {
	e     *entry
	delta int64
}

// group is the requests that share one idempotency record. The first leads: only its deltas
// are planned; the others repeat the key and get its outcome, judged against the request the
// record ends up holding.
type group struct{ members []*request }

func (g *group) leader() *request { return g.members[0] }

// groupByRecord groups reqs by their record, in order of first appearance.
func groupByRecord(reqs []*request) []*group {
	var groups []*group
	byPath := map[string]*group{}
	for _, r := range reqs {
		if r.record == nil {
			groups = append(groups, &group{members: []*request{r}})
			continue
		}
		if g, ok := byPath[r.record.Path]; ok {
			g.members = append(g.members, r)
			continue
		}
		g := &group{members: []*request{r}}
		byPath[r.record.Path] = g
		groups = append(groups, g)
	}
	return groups
}

// applied answers the group after the leader's request was applied at t.
func (g *group) applied(t time.Time) {
	l := g.leader()
	l.finish(WriteResult{CommitTime: t}, nil)
	for _, m := range g.members[1:] {
		m.finish(record{key: l.key, fingerprint: l.fingerprint, commitTime: t}.replay(m.key, m.fingerprint))
	}
}

// replayed answers every member from the record an earlier request left.
func (g *group) replayed(d *firestore.DocumentSnapshot) {
	r, err := recordOf(d)
	for _, m := range g.members {
		if err != nil {
			m.finish(WriteResult{}, err)
			continue
		}
		m.finish(r.replay(m.key, m.fingerprint))
	}
}

// failed answers every member with err: nothing was applied, or the outcome is unknown.
func (g *group) failed(err error) {
	for _, m := range g.members {
		m.finish(WriteResult{}, err)
	}
}

// rejected answers the leader, and the members making the same request, with err (the request
// cannot be applied; nothing was). Members that make another request with the key form the
// group returned, to be tried on their own; nil if there are none.
func (g *group) rejected(err error) *group {
	l := g.leader()
	var rest []*request
	for _, m := range g.members {
		if m == l || m.fingerprint == l.fingerprint {
			m.finish(WriteResult{}, err)
		} else {
			rest = append(rest, m)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return &group{members: rest}
}

func countRequests(groups []*group) (n int) {
	for _, g := range groups {
		n += len(g.members)
	}
	return n
}

// commitment is one run of the sequence over a set of requests.
type commitment struct {
	s       *Counters
	entries []*entry // the counters involved, in id order (the order stateMu is taken in)

	// For the span of the commitment (telemetry.go): how its last commit attempt ended, how many
	// attempts it made, and, only while the span records, the shards its deltas went to.
	last      outcome
	attempts  int
	recording bool
	shards    []int
}

// attempted records a commit attempt that ended with o, sent took before (negative if nothing
// was sent).
func (c *commitment) attempted(ctx context.Context, o outcome, took time.Duration) {
	c.last = o
	c.attempts++
	c.s.ins.committed(ctx, o, took)
}

// marks are what the attempts of one commit leave on what they write, by which reading back
// recognises them: each attempt's name (on shards and records) and the generations the attempts
// create (on a counter's metadata), with the attempt creating each. Only the current commit's
// own attempts count: an earlier commit of the same requests either succeeded and was answered,
// or was shown not to have been applied.
type marks struct {
	attempts map[string]bool
	gens     map[string]string
}

func newMarks() marks { return marks{attempts: map[string]bool{}, gens: map[string]string{}} }

// find returns the first attempt of m found applied in snaps and its commit time; a zero time if
// there is none.
func (m marks) find(snaps []*firestore.DocumentSnapshot) (at time.Time, attempt string) {
	for _, d := range snaps {
		if !d.Exists() {
			continue
		}
		data := d.Data()
		a, _ := data[fieldAttempt].(string)
		gen, _ := data[fieldGeneration].(string)
		isMeta := d.Ref.Parent.Parent == nil && d.Ref.Parent.ID == countersCollection
		var when time.Time
		switch {
		case a != "" && m.attempts[a]:
			when = d.UpdateTime
			if d.Ref.Parent.ID == recordsCollection {
				when = d.CreateTime // a record's create time is its request's commit time
			}
		case isMeta && m.gens[gen] != "":
			when, a = d.CreateTime, m.gens[gen]
		default:
			continue
		}
		if at.IsZero() || when.Before(at) {
			at, attempt = when, a
		}
	}
	return at, attempt
}

// commitRequests applies reqs and answers each of them exactly once. span is the commitment's
// (nil without tracing); the commitment returned tells what to set on it.
func (s *Counters) commitRequests(ctx context.Context, entries []*entry, reqs []*request, span trace.Span) *commitment {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommitTimeout)
	defer cancel()
	c := &commitment{s: s, entries: entries, recording: span != nil && span.IsRecording()}
	for _, e := range entries {
		if a := e.adapt.Load(); a != nil {
			a.commits.Add(1)
		}
	}
	groups := groupByRecord(reqs)
	locked := false
	for try := 0; len(groups) > 0; try++ {
		if try == maxAttempts {
			for _, e := range entries {
				e.contended()
			}
			for _, g := range groups {
				g.failed(fmt.Errorf("%d attempts conflicted: %w", maxAttempts, ErrContention))
			}
			return c
		}
		if locked {
			groups = c.commitLocked(ctx, groups)
			continue
		}
		var why string
		groups, why = c.commitFast(ctx, groups)
		locked = why != ""
		if locked && len(groups) > 0 && s.opts.Logger.Enabled(ctx, slog.LevelDebug) {
			s.opts.Logger.DebugContext(ctx, "a commit falls back to the locked path", "counters", c.counterIDs(),
				"requests", countRequests(groups), "why", why)
		}
	}
	return c
}

// Why the next try of a commitment takes the locked path.
const (
	lockedForBounds = "the fast path cannot take a request: a total near the int64 bounds, or a counter in exact mode"
	lockedForRace   = "another writer raced for a shard"
)

// lockedFor is why the groups the fast path deferred go to the locked path; "" if there are none.
func lockedFor(deferred []*group) string {
	if len(deferred) > 0 {
		return lockedForBounds
	}
	return ""
}

// commitFast plans groups on the cached states and commits them with conditional writes. It
// returns the groups left to try and, if the next try should take the locked path, why.
func (c *commitment) commitFast(ctx context.Context, groups []*group) (rest []*group, lockedNext string) {
	s := c.s
	for _, e := range c.entries {
		e.stateMu.Lock()
	}
	unlock := func() {
		for _, e := range c.entries {
			e.stateMu.Unlock()
		}
	}
	for _, e := range c.entries {
		if err := s.ensureLoaded(ctx, e); err != nil {
			unlock()
			c.attempted(ctx, outcomeFailed, -1)
			for _, g := range groups {
				g.failed(classifyUnapplied(err)) // nothing was sent
			}
			return nil, ""
		}
		e.maxLanes.Store(int32(min(s.opts.MaxInFlight, max(e.st.shardCount, 1))))
	}
	plans := map[*entry]*shardPlan{}
	var planned, deferred []*group
	for _, g := range groups {
		if c.plan(g, plans) {
			planned = append(planned, g)
		} else {
			deferred = append(deferred, g)
		}
	}
	var ordered []*shardPlan
	for _, e := range c.entries {
		if p := plans[e]; p != nil && !p.empty() {
			p.reserve()
			ordered = append(ordered, p)
			if c.recording {
				for n := range p.sums {
					c.noteShards(n)
				}
			}
		}
	}
	unlock()
	if len(planned) == 0 {
		return deferred, lockedFor(deferred)
	}
	release := func() {
		for _, p := range ordered {
			p.e.stateMu.Lock()
			p.release()
			p.e.stateMu.Unlock()
		}
	}

	name := newAttempt()
	m := newMarks()
	m.attempts[name] = true
	wb := s.client.Batch()
	var refs, recordRefs []*firestore.DocumentRef
	for _, p := range ordered {
		s.addWrites(wb, p, name)
		refs = append(refs, p.refs...)
		if p.create {
			m.gens[p.cfg.generation] = name
		}
	}
	for _, g := range planned {
		if l := g.leader(); l.record != nil {
			wb.Create(l.record, s.recordData(l.key, l.fingerprint, name))
			recordRefs = append(recordRefs, l.record)
		}
	}
	sent := time.Now()
	commitTime, times, err := commitWrites(ctx, wb, append(refs, recordRefs...))
	took := time.Since(sent)
	if err == nil {
		c.attempted(ctx, outcomeApplied, took)
		now := s.opts.Now()
		for _, p := range ordered {
			p.e.stateMu.Lock()
			p.committed(times, now)
			p.release()
			p.e.stateMu.Unlock()
		}
		s.commits.Add(1)
		s.increments.Add(uint64(countRequests(planned)))
		for _, g := range planned {
			g.applied(commitTime)
		}
		return deferred, lockedFor(deferred)
	}

	in, ierr := c.inspect(ctx, ordered, recordRefs, m, took)
	release()
	switch {
	case ierr == nil && in.applied:
		// This very commit was applied; its answer was lost.
		c.attempted(ctx, outcomeApplied, took)
		for _, g := range planned {
			g.applied(in.appliedAt)
		}
		return deferred, lockedFor(deferred)
	case ierr != nil:
		c.attempted(ctx, outcomeUnknown, took)
		c.invalidate()
		c.failed(ctx, planned, unknownOutcome(fmt.Errorf("%v (and reading back: %v)", err, ierr)))
		return deferred, lockedFor(deferred)
	case !outcomeKnown(err):
		c.attempted(ctx, outcomeUnknown, took)
		c.invalidate()
		c.failed(ctx, planned, unknownOutcome(err))
		return deferred, lockedFor(deferred)
	case status.Code(err) == codes.InvalidArgument:
		// Firestore refused the commit itself: trying again cannot help.
		c.attempted(ctx, outcomeFailed, took)
		c.failed(ctx, planned, tooLarge(err))
		return deferred, lockedFor(deferred)
	}
	c.attempted(ctx, outcomeConflict, took)
	// Nothing was applied: answer the keys used before, and try the rest again.
	for _, g := range planned {
		if l := g.leader(); l.record != nil {
			if d := in.records[l.record.Path]; d != nil {
				g.replayed(d)
				continue
			}
		}
		rest = append(rest, g)
	}
	if in.raced {
		return append(rest, deferred...), lockedForRace
	}
	return append(rest, deferred...), lockedFor(deferred)
}

// plan adds the leader's deltas of g to the plans, all or none; false if the fast path cannot
// take them. The caller holds every entry's stateMu.
func (c *commitment) plan(g *group, plans map[*entry]*shardPlan) bool {
	type placed struct {
		p *shardPlan
		n int
		d int64
	}
	var done []placed
	for _, pt := range g.leader().parts {
		p := plans[pt.e]
		if p == nil {
			p = c.s.newShardPlan(pt.e)
			plans[pt.e] = p
		}
		n, ok := p.add(pt.delta)
		if !ok {
			for _, d := range done {
				d.p.undo(d.n, d.d)
			}
			return false
		}
		done = append(done, placed{p, n, pt.delta})
	}
	return true
}

// failed answers the groups with err after a commit failed. A commit whose outcome is unknown is
// logged: the cause is usually Firestore being unreachable, which operators want to see.
func (c *commitment) failed(ctx context.Context, groups []*group, err error) {
	if errors.Is(err, ErrUnknownOutcome) {
		c.s.opts.Logger.WarnContext(ctx, "commit outcome unknown", "counters", c.counterIDs(),
			"requests", countRequests(groups), "error", err)
	}
	for _, g := range groups {
		g.failed(err)
	}
}

// counterIDs lists the counters of the commitment, for the log.
func (c *commitment) counterIDs() []string {
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = e.id
	}
	return out
}

// invalidate drops the cached state of every counter involved, so that the next use reloads it.
func (c *commitment) invalidate() {
	for _, e := range c.entries {
		e.invalidate()
	}
}

// commitWrites commits wb and returns the commit time and each written document's update time.
func commitWrites(ctx context.Context, wb *firestore.WriteBatch, refs []*firestore.DocumentRef) (time.Time, map[*firestore.DocumentRef]time.Time, error) {
	results, err := wb.Commit(ctx)
	if err != nil {
		return time.Time{}, nil, err
	}
	times := make(map[*firestore.DocumentRef]time.Time, len(refs))
	var commitTime time.Time
	for i, r := range results {
		if i < len(refs) {
			times[refs[i]] = r.UpdateTime
		}
		if r.UpdateTime.After(commitTime) {
			commitTime = r.UpdateTime
		}
	}
	return commitTime, times, nil
}

// inspection is what the store learns after a failed fast commit.
type inspection struct {
	applied   bool      // the commit was applied after all
	appliedAt time.Time // its commit time
	raced     bool      // another writer changed a shard the commit wrote
	records   map[string]*firestore.DocumentSnapshot
}

// inspect reads back, in one call, the counters' metadata, the shards the commit wrote and the
// records, to find out whether any attempt was applied, which keys were used before, and whether
// another writer raced for a shard; and refreshes each counter's cached state. took is how long
// the failed commit was in flight.
func (c *commitment) inspect(ctx context.Context, plans []*shardPlan, recordRefs []*firestore.DocumentRef, m marks, took time.Duration) (inspection, error) {
	var refs []*firestore.DocumentRef
	for _, p := range plans {
		refs = append(refs, c.s.metaRef(p.e.id))
		refs = append(refs, p.writtenShards()...)
	}
	refs = append(refs, recordRefs...)
	snaps, err := c.readBack(ctx, refs)
	if err != nil {
		return inspection{}, err
	}
	applied, _ := m.find(snaps)
	in := inspection{applied: !applied.IsZero(), appliedAt: applied, records: map[string]*firestore.DocumentSnapshot{}}
	i := 0
	for _, p := range plans {
		meta, shards := snaps[i], snaps[i+1:i+1+len(p.writtenShards())]
		i += 1 + len(shards)
		p.e.stateMu.Lock()
		if p.e.st.refresh(p, meta, shards) {
			in.raced = true
			if concurrent(p, shards, took) {
				p.e.contended()
			}
		}
		p.e.stateMu.Unlock()
	}
	for _, d := range snaps[i:] {
		if d.Exists() {
			in.records[d.Ref.Path] = d
		}
	}
	return in, nil
}

// readBack reads refs with a context of its own: when the commit's context expired, the answer
// that settles its outcome must still be read.
func (c *commitment) readBack(ctx context.Context, refs []*firestore.DocumentRef) ([]*firestore.DocumentSnapshot, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.opts.CommitTimeout)
	defer cancel()
	return c.s.client.GetAll(ctx, refs)
}

// refresh updates the cache from the documents inspect read for plan p: the metadata and the
// shards p wrote. A changed configuration invalidates the cache. raced reports that another
// writer changed one of the shards since p was planned. The caller holds the entry's stateMu.
func (st *counterState) refresh(p *shardPlan, meta *firestore.DocumentSnapshot, shards []*firestore.DocumentSnapshot) (raced bool) {
	if p.create || !meta.Exists() || !st.loaded || st.generation != p.cfg.generation || st.shardCount != p.cfg.shardCount {
		st.invalidate()
		return false
	}
	cfg, err := configOf(meta)
	if err != nil || cfg.generation != p.cfg.generation || cfg.shardCount != p.cfg.shardCount || cfg.exact != p.cfg.exact {
		st.invalidate()
		return false
	}
	for _, d := range shards {
		n, _ := shardIndex(d.Ref.ID)
		v, complete, err := shardsOf([]*firestore.DocumentSnapshot{d}, cfg.generation)
		if err != nil || !complete || n >= len(st.shards) {
			st.invalidate()
			return false
		}
		if !v[0].updateTime.Equal(p.base[n].updateTime) {
			raced = true
		}
		st.shards[n] = v[0]
		st.fast = st.fast && withinBounds(v[0].value, cfg.shardCount)
	}
	return raced
}

// concurrent reports whether another writer wrote one of the shards plan p wrote while its
// commit was in flight (took), rather than before it was planned: only the former is contention
// that more shards would make rarer. A cache that missed writes made earlier is out of date
// however many shards there are, since placement is random. Both times are Firestore's: the
// shard's update time, and the read back's time less the flight.
func concurrent(p *shardPlan, shards []*firestore.DocumentSnapshot, took time.Duration) bool {
	for _, d := range shards {
		n, err := shardIndex(d.Ref.ID)
		if err != nil || !d.Exists() || d.UpdateTime.Equal(p.base[n].updateTime) {
			continue
		}
		if d.UpdateTime.After(d.ReadTime.Add(-took)) {
			return true
		}
	}
	return false
}

// outcomeKnown reports whether a commit that failed with err certainly applied nothing, unless a
// retry by the client library re-sent an attempt that had been applied (reading back finds that).
// Any other failure may have been applied.
func outcomeKnown(err error) bool {
	switch status.Code(err) {
	case codes.AlreadyExists, codes.FailedPrecondition, codes.NotFound, codes.Aborted, codes.InvalidArgument, codes.OutOfRange:
		return true
	}
	return false
}

// unknownOutcome is the error of a commit that may or may not have been applied.
func unknownOutcome(err error) error { return fmt.Errorf("%w: %v", ErrUnknownOutcome, err) }

// tooLarge is the error of a commit Firestore refused as invalid.
func tooLarge(err error) error { return fmt.Errorf("%w: %v", ErrTooLarge, err) }

// transactionExpired reports Firestore's refusal of a transaction it no longer knows (expired,
// or begun before the emulator restarted): INVALID_ARGUMENT "the referenced transaction has
// expired or is no longer valid". The commit applied nothing and the request is valid, so it is
// not an invalid argument: trying again with a new transaction succeeds. Only the message tells it
// from Firestore's other INVALID_ARGUMENT answers, such as a commit too large.
func transactionExpired(err error) bool {
	return status.Code(err) == codes.InvalidArgument &&
		strings.Contains(strings.ToLower(status.Convert(err).Message()), "transaction has expired or is no longer valid")
}

// isNotFound reports a Firestore NOT_FOUND.
func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// classify turns a Firestore failure of a write that may have been applied into the store's
// error kinds: when Firestore could not be reached, the outcome is unknown.
func classify(err error) error { return classifyAs(err, ErrUnknownOutcome) }

// classifyUnapplied is classify for a failure that applied nothing: a read, or a write that was
// never sent.
func classifyUnapplied(err error) error { return classifyAs(err, ErrUnavailable) }

func classifyAs(err, unreachable error) error {
	if err == nil {
		return nil
	}
	if transactionExpired(err) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	for _, known := range []error{ErrInvalidArgument, ErrNotFound, ErrAlreadyExists, ErrKeyReused, ErrOutOfRange, ErrTooLarge, ErrReadTimeTooOld,
		ErrOverloaded, ErrContention, ErrUnknownOutcome, ErrUnavailable, ErrClosed, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, known) {
			return err
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal, codes.ResourceExhausted:
		return fmt.Errorf("%w: %v", unreachable, err)
	case codes.Aborted:
		return fmt.Errorf("%w: %v", ErrContention, err)
	}
	return err
}
