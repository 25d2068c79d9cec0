package shard

// Pending reports how many updates the watch holds that Next has not returned: at most one
// whatever happened since, which tests of a watcher that stops reading check.
func (w *Watch) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		return 0
	}
	return 1
}
