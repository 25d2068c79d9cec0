package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tally-dev/tally/emulator/resource"
)

// Write replaces one document's latest version.
type Write struct {
	DB   resource.Database
	Path []string
	// Prev is the document's latest version (live or tombstone) as the caller knows it, nil if it
	// has none. It moves into history, valid until the batch's CommitTime.
	Prev *Version
	// Next becomes the latest version; Next.UpdateTime must equal the batch's CommitTime. The
	// Path fields of Prev and Next are ignored: Write.Path names the document.
	Next Version
}

// Batch is the unit of atomicity: all of its writes become durable together, or none do.
type Batch struct {
	CommitTime int64 // µs; strictly greater than every earlier batch's
	Writes     []Write
}

// Ticket reports the outcome of one submitted batch.
type Ticket struct {
	done chan struct{}
	err  error
}

// Done is closed once the batch is durable or has failed.
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Err is the batch's outcome, valid after Done is closed: nil means the batch is synced to
// disk and every read at or after its CommitTime sees it.
func (t *Ticket) Err() error { return t.err }

func (t *Ticket) complete(err error) {
	t.err = err
	close(t.done)
}

func failedTicket(err error) *Ticket {
	t := &Ticket{done: make(chan struct{})}
	t.complete(err)
	return t
}

// pending is a submitted batch, already encoded, waiting for the flusher.
type pending struct {
	commitTime int64
	ops        []writeOp
	bytes      int
	gcDirty    [][]byte // L keys of documents that gain history or a tombstone
	ticket     *Ticket
}

// writeOp sets key to value, deletes key, or, for a range deletion, deletes [key, end).
type writeOp struct {
	key, value  []byte
	delete      bool
	deleteRange bool
	end         []byte
}

// Submit queues b for the flusher and returns at once; no I/O happens on the caller's
// goroutine. b is encoded before Submit returns, so the caller may reuse it. Batches must be
// submitted in strictly increasing CommitTime order, which makes the caller serialise Submit.
// An invalid batch, or any batch once the store has failed or closed, completes immediately
// with an error.
func (s *Store) Submit(b *Batch) *Ticket {
	if b == nil {
		return failedTicket(fmt.Errorf("%w: batch must not be nil", ErrInvalid))
	}
	p, encodeErr := encodeBatch(b, s.expiry)

	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	if encodeErr == nil && b.CommitTime <= s.lastSubmitted {
		encodeErr = fmt.Errorf("%w: batch CommitTime %d must be greater than the previous batch's %d", ErrInvalid, b.CommitTime, s.lastSubmitted)
	}
	return s.enqueueLocked(p, encodeErr)
}

// enqueueLocked hands p to the flusher, or fails its ticket at once with the store's state or
// invalid. The caller holds queueMu.
func (s *Store) enqueueLocked(p *pending, invalid error) *Ticket {
	switch {
	case s.closing:
		return failedTicket(ErrClosed)
	case s.failure != nil:
		return failedTicket(s.failure)
	case invalid != nil:
		return failedTicket(invalid)
	}
	s.lastSubmitted = p.commitTime
	p.ticket = &Ticket{done: make(chan struct{})}
	s.queue = append(s.queue, p)
	s.queueReady.Signal()
	return p.ticket
}

func encodeBatch(b *Batch, expiry *Expiry) (*pending, error) {
	if b.CommitTime <= 0 {
		return nil, fmt.Errorf("%w: batch CommitTime %d must be positive", ErrInvalid, b.CommitTime)
	}
	p := &pending{commitTime: b.CommitTime}
	seen := make(map[string]int, len(b.Writes))
	for i := range b.Writes {
		w := &b.Writes[i]
		if err := validateWrite(i, w, b.CommitTime); err != nil {
			return nil, err
		}
		ns := namespace(w.DB)
		lkey := latestKey(ns, w.Path)
		if j, dup := seen[string(lkey)]; dup {
			return nil, fmt.Errorf("%w: writes[%d] and writes[%d] both write %v; a batch writes each document once", ErrInvalid, j, i, w.Path)
		}
		seen[string(lkey)] = i
		next, err := encodeVersion(&w.Next, false, 0)
		if err != nil {
			return nil, err
		}
		p.add(lkey, next)
		if w.Prev != nil {
			prev, err := encodeVersion(w.Prev, true, b.CommitTime)
			if err != nil {
				return nil, err
			}
			p.add(historyKey(historyPrefixOf(lkey), w.Prev.UpdateTime), prev)
		}
		if w.Prev != nil || w.Next.Deleted {
			p.gcDirty = append(p.gcDirty, lkey)
		}
		if expiry != nil {
			expiry.addExpiryOps(p, ns, w)
		}
	}
	return p, nil
}

func (p *pending) add(key, value []byte) {
	p.ops = append(p.ops, writeOp{key: key, value: value})
	p.bytes += len(key) + len(value)
}

// flushLoop is the single writer of submitted batches. Each round takes everything queued (up to
// maxGroupBytes), writes it as one pebble batch with Sync and only then completes the tickets,
// so concurrent commits share one fsync.
func (s *Store) flushLoop() {
	defer close(s.flusherDone)
	for {
		group := s.nextGroup()
		if group == nil {
			return
		}
		s.flushGroup(group)
	}
}

// nextGroup waits for queued batches and takes a prefix of them; nil means closing with an empty
// queue.
func (s *Store) nextGroup() []*pending {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	for len(s.queue) == 0 && !s.closing {
		s.queueReady.Wait()
	}
	if len(s.queue) == 0 {
		return nil
	}
	n, size := 1, s.queue[0].bytes
	for n < len(s.queue) && size+s.queue[n].bytes <= s.maxGroupBytes {
		size += s.queue[n].bytes
		n++
	}
	group := s.queue[:n:n]
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil // let the backing array go
	}
	return group
}

func (s *Store) flushGroup(group []*pending) {
	if err := s.writeFailure(); err != nil {
		completeAll(group, err)
		return
	}
	last := group[len(group)-1].commitTime
	if err := s.writeGroup(group, last); err != nil {
		completeAll(group, s.fail(err))
		return
	}
	// Publish the durable time before any ticket completes, so a caller that saw its ticket
	// succeed can read at its commit time.
	s.durable.Store(last)
	s.flushes.Add(1)
	s.batches.Add(uint64(len(group)))
	for _, p := range group {
		s.gc.markDirty(p.gcDirty)
	}
	completeAll(group, nil)
}

// writeGroup applies every batch of the group, plus the new durable time, as one pebble batch
// and returns only after pebble has synced its WAL (or failed to).
func (s *Store) writeGroup(group []*pending, last int64) error {
	b := s.db.NewBatch()
	for _, p := range group {
		for _, op := range p.ops {
			var err error
			switch {
			case op.deleteRange:
				err = b.DeleteRange(op.key, op.end, nil)
			case op.delete:
				err = b.Delete(op.key, nil)
			default:
				err = b.Set(op.key, op.value, nil)
			}
			if err != nil {
				return err
			}
		}
	}
	if err := b.Set(durableKey, binary.BigEndian.AppendUint64(nil, uint64(last)), nil); err != nil {
		return err
	}
	s.writeMu.Lock()
	err := s.applyWrite(b, pebble.Sync)
	s.writeMu.Unlock()
	if err != nil {
		return err // b is left to the garbage collector: after a failed commit pebble may still reference it
	}
	// The batch is durable whatever Close says; failing the tickets now would misreport it.
	if err := b.Close(); err != nil {
		s.log.Warn("storage: releasing a committed batch", "err", err)
	}
	return nil
}

func completeAll(group []*pending, err error) {
	for _, p := range group {
		p.ticket.complete(err)
	}
}
