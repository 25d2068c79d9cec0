package txn

import (
	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// Applying a write needs the document's newest version, and reading it from storage is the
// slowest step of a commit. Doing it under seqMu would serialize those reads across all commits,
// so a commit reads its documents before taking seqMu (a prefetch) and, under seqMu, keeps a
// prefetched version only if nothing can have changed it since:
//   - a commit still waiting for durability is in e.pending, which takes precedence;
//   - a commit that became durable after the prefetch's durable time and has already left
//     e.pending is in the log of recently durable documents (below).
// Anything else committed before the prefetch was durable when it read, so the read saw it.

// prefetch holds the documents a commit read before sequencing.
type prefetch struct {
	durable  int64 // the store's durable time before the reads
	epoch    uint64
	versions map[string]*storage.Version // by document key; nil value: no version stored
}

// prefetchDocs reads the newest durable version of each written document, all in one storage
// call. A failed read leaves the prefetch empty: the documents are read again under seqMu, where
// the error is reported.
func (e *Engine) prefetchDocs(db resource.Database, keys []string, writes []Write) *prefetch {
	e.seqMu.Lock()
	epoch := e.durableLog.epoch
	e.seqMu.Unlock()
	p := &prefetch{durable: e.store.DurableTime(), epoch: epoch, versions: make(map[string]*storage.Version, len(keys))}
	paths := make([][]string, len(writes))
	for i := range writes {
		paths[i] = writes[i].Path
	}
	versions, err := e.store.LatestAll(db, paths)
	if err != nil {
		return p
	}
	for i, key := range keys {
		p.versions[key] = versions[i]
	}
	return p
}

// durableLog remembers which documents recently became durable (left e.pending), and when, so
// that a prefetch can tell whether it is stale. It keeps two generations of entries; a prefetch
// older than the previous generation is not trusted. Guarded by seqMu.
type durableLog struct {
	epoch     uint64
	cur, prev map[string]int64
}

// maxDurableLog is how many documents a generation of the log holds before it rotates.
const maxDurableLog = 8192

func (l *durableLog) record(key string, commitTime int64) {
	if l.cur == nil {
		l.cur = map[string]int64{}
	}
	l.cur[key] = commitTime
	if len(l.cur) >= maxDurableLog {
		l.prev, l.cur = l.cur, map[string]int64{}
		l.epoch++
	}
}

// changedSince reports whether key may have become durable after time durable, given a
// prefetch taken at epoch.
func (l *durableLog) changedSince(key string, durable int64, epoch uint64) bool {
	if l.epoch-epoch >= 2 {
		return true // the log no longer reaches back that far
	}
	if t, ok := l.cur[key]; ok && t > durable {
		return true
	}
	t, ok := l.prev[key]
	return ok && t > durable
}

// latestWith returns the newest version of a document, from the prefetch when it is still
// current. Caller holds seqMu.
func (e *Engine) latestWith(db resource.Database, key string, path []string, p *prefetch) (*storage.Version, error) {
	if pv, ok := e.pending[key]; ok {
		return pv.version, nil
	}
	if p != nil {
		if v, ok := p.versions[key]; ok && !e.durableLog.changedSince(key, p.durable, p.epoch) {
			return v, nil
		}
	}
	v, err := e.store.Latest(db, path)
	if err != nil {
		return nil, errorf(KindInternal, "reading %s: %v", db.DocumentName(path), err)
	}
	return v, nil
}
