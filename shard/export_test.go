package shard

import "context"

// Queued reports how many increments of counter id wait in its queue for a commit, so that tests
// can put calls into one batch in a known order without sleeping.
func (s *Counters) Queued(id string) int {
	s.mu.Lock()
	e := s.entries[id]
	s.mu.Unlock()
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}

// AdaptNow ends the window of every adaptive counter in the cache at once and carries out its
// decisions, as the evaluation does once every AdaptiveWindow, so that tests need not wait.
func (s *Counters) AdaptNow(ctx context.Context) { s.adaptNow(ctx) }
