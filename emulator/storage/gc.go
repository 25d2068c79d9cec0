package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// GCStats describes one garbage-collection run.
type GCStats struct {
	Documents       int // documents examined: those that gained history or a tombstone since their last run
	VersionsDeleted int // history entries and tombstones removed
}

// gcBatchBytes bounds the history deletions a run buffers before applying them.
const gcBatchBytes = 1 << 20

// gcState remembers which documents may hold collectable versions, so a run visits only them.
type gcState struct {
	mu    sync.Mutex
	dirty map[string]struct{} // L keys

	run     sync.Mutex // one run at a time
	stop    chan struct{}
	rebuilt chan struct{} // closed when the startup scan of the history keyspace ends
	once    sync.Once
}

func newGCState() *gcState {
	return &gcState{dirty: map[string]struct{}{}, stop: make(chan struct{}), rebuilt: make(chan struct{})}
}

func (g *gcState) markDirty(lkeys [][]byte) {
	if len(lkeys) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range lkeys {
		g.dirty[string(k)] = struct{}{}
	}
}

func (g *gcState) markDirtyStrings(lkeys []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range lkeys {
		g.dirty[k] = struct{}{}
	}
}

// take empties the dirty set and returns its keys in order, so a run seeks forward only.
func (g *gcState) take() []string {
	g.mu.Lock()
	docs := make([]string, 0, len(g.dirty))
	for k := range g.dirty {
		docs = append(docs, k)
	}
	g.dirty = map[string]struct{}{}
	g.mu.Unlock()
	slices.Sort(docs)
	return docs
}

func (g *gcState) stopRebuild() {
	g.once.Do(func() { close(g.stop) })
	<-g.rebuilt
}

// rebuildGCState marks every document that has history, after a restart lost the dirty set. It
// runs in the background and visits each document with one seek.
func (s *Store) rebuildGCState() {
	defer close(s.gc.rebuilt)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{historyPrefix}, UpperBound: []byte{historyPrefix + 1}})
	if err != nil {
		s.log.Error("storage: scanning history for garbage collection", "err", err)
		return
	}
	defer it.Close()
	const suffix = len(historyMarker) + historyTimeBytes
	for valid := it.First(); valid; {
		select {
		case <-s.gc.stop:
			return
		default:
		}
		key := it.Key()
		if len(key) <= 1+suffix {
			s.log.Error("storage: skipping a malformed history key during the garbage-collection scan", "key", key)
			valid = it.Next()
			continue
		}
		hprefix := key[:len(key)-historyTimeBytes]
		lkey := append([]byte{latestPrefix}, key[1:len(key)-suffix]...)
		s.gc.markDirty([][]byte{lkey})
		valid = it.SeekGE(historyEnd(hprefix))
	}
	if err := it.Error(); err != nil {
		s.log.Error("storage: scanning history for garbage collection", "err", err)
	}
}

// CollectGarbage deletes every version that no read at or after horizon (capped at DurableTime)
// can see: history entries valid until horizon or earlier, and tombstones committed at or
// before horizon together with their history. It visits only documents that gained history or a
// tombstone since they were last collected, with one seek and one range deletion each. Reads
// below horizon may afterwards miss versions; the caller keeps horizon at or below its oldest
// read time.
func (s *Store) CollectGarbage(horizon int64) (stats GCStats, err error) {
	if err := s.enter(); err != nil {
		return stats, err
	}
	defer s.leave()
	if err := s.writeFailure(); err != nil {
		return stats, err
	}
	horizon = min(horizon, s.DurableTime())
	s.gc.run.Lock()
	defer s.gc.run.Unlock()

	docs := s.gc.take()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{historyPrefix}, UpperBound: []byte{historyPrefix + 1}})
	if err != nil {
		s.gc.markDirtyStrings(docs)
		return stats, err
	}
	c := &collector{s: s, it: it, horizon: horizon, batch: s.db.NewBatch()}
	var keep []string
	for i, doc := range docs {
		deleted, stays, err := c.document([]byte(doc))
		if err == nil && c.batch.Len() >= gcBatchBytes {
			err = c.flush()
		}
		if err != nil {
			s.gc.markDirtyStrings(keep)
			s.gc.markDirtyStrings(docs[i:])
			return stats, errors.Join(err, it.Close())
		}
		stats.Documents++
		stats.VersionsDeleted += deleted
		if stays {
			keep = append(keep, doc)
		}
	}
	s.gc.markDirtyStrings(keep)
	err = c.flush()
	return stats, errors.Join(err, it.Close())
}

// collector holds one run's history iterator and the deletions not yet applied.
type collector struct {
	s       *Store
	it      *pebble.Iterator
	horizon int64
	batch   *pebble.Batch
}

func (c *collector) flush() error {
	if c.batch.Empty() {
		return nil
	}
	err := c.s.applyLocked(c.batch, pebble.NoSync)
	c.batch = c.s.db.NewBatch()
	return err
}

// document collects one document and reports how many versions it deleted and whether the
// document still has history (and so must be visited again later).
func (c *collector) document(lkey []byte) (deleted int, stays bool, err error) {
	latest, found, err := c.s.latestHeader(lkey)
	if err != nil {
		return 0, true, err
	}
	if found && latest.deleted && latest.updateTime <= c.horizon {
		return c.s.dropTombstone(lkey, latest.updateTime)
	}
	hprefix := historyPrefixOf(lkey)
	it := c.it
	// The first entry committed at or before horizon is the one a read at horizon may see.
	if !it.SeekGE(historyKey(hprefix, c.horizon)) || !bytes.HasPrefix(it.Key(), hprefix) {
		if err := it.Error(); err != nil {
			return 0, true, err
		}
		// Nothing to delete; the document stays while newer history remains.
		stays = it.SeekLT(historyEnd(hprefix)) && bytes.HasPrefix(it.Key(), hprefix)
		return 0, stays, it.Error()
	}
	val, err := it.ValueAndErr()
	if err != nil {
		return 0, true, err
	}
	h, _, err := decodeHeader(val)
	if err == nil && !h.hasValidUntil {
		err = fmt.Errorf("%w: history entry lacks its validUntil time", ErrCorrupt)
	}
	if err != nil {
		return 0, true, err
	}
	if h.validUntil > c.horizon {
		stays = true // still visible at horizon
		if !it.Next() || !bytes.HasPrefix(it.Key(), hprefix) {
			return 0, true, it.Error()
		}
	} else {
		// Newer history remains unless this entry was replaced by the latest version itself.
		stays = found && latest.updateTime != h.validUntil
	}
	start := bytes.Clone(it.Key())
	for valid := true; valid && bytes.HasPrefix(it.Key(), hprefix); valid = it.Next() {
		deleted++
	}
	if err := it.Error(); err != nil {
		return 0, true, err
	}
	return deleted, stays, c.batch.DeleteRange(start, historyEnd(hprefix), nil)
}

// latestHeader reads the header of a document's L version.
func (s *Store) latestHeader(lkey []byte) (header, bool, error) {
	val, closer, err := s.db.Get(lkey)
	if errors.Is(err, pebble.ErrNotFound) {
		return header{}, false, nil
	}
	if err != nil {
		return header{}, false, err
	}
	defer closer.Close()
	h, _, err := decodeHeader(val)
	return h, err == nil, err
}

// dropTombstone deletes a document's tombstone and all its history, unless a commit replaced the
// tombstone since it was read. It holds writeMu so that no commit lands in between.
func (s *Store) dropTombstone(lkey []byte, updateTime int64) (deleted int, stays bool, err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	h, found, err := s.latestHeader(lkey)
	if err != nil {
		return 0, true, err
	}
	if !found || !h.deleted || h.updateTime != updateTime {
		return 0, true, nil // changed under us; the next run looks again
	}
	hprefix := historyPrefixOf(lkey)
	hend := historyEnd(hprefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: hprefix, UpperBound: hend})
	if err != nil {
		return 0, true, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		deleted++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, true, err
	}
	b := s.db.NewBatch()
	if err := b.DeleteRange(hprefix, hend, nil); err != nil {
		return 0, true, err
	}
	if err := b.Delete(lkey, nil); err != nil {
		return 0, true, err
	}
	if err := s.applyWrite(b, pebble.NoSync); err != nil {
		return 0, true, s.fail(err)
	}
	return deleted + 1, false, nil
}

// applyLocked applies b under writeMu, failing the store if pebble cannot.
func (s *Store) applyLocked(b *pebble.Batch, opts *pebble.WriteOptions) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.applyWrite(b, opts); err != nil {
		return s.fail(err)
	}
	return nil
}
