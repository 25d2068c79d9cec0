package storage

import (
	"github.com/tally-dev/tally/emulator/resource"
)

// DropDatabase deletes every version of every document of db and returns once the deletion is
// durable. It is ordered with Submit: batches submitted before it are written first (and
// dropped), batches submitted after it survive. Reads of db then see an empty database at any
// read time.
func (s *Store) DropDatabase(db resource.Database) error {
	if err := validateDatabase(db); err != nil {
		return err
	}
	ns := namespace(db)
	s.queueMu.Lock()
	// The drop takes no commit time of its own: it rides with the newest submitted batch's.
	p := &pending{commitTime: s.lastSubmitted}
	for _, prefix := range []byte{latestPrefix, historyPrefix, expiryPrefix} {
		start := append([]byte{prefix}, ns...)
		p.ops = append(p.ops, writeOp{key: start, end: subtreeEnd(start), deleteRange: true})
		p.bytes += 2*len(start) + 1
	}
	t := s.enqueueLocked(p, nil)
	s.queueMu.Unlock()
	<-t.Done()
	return t.Err()
}
