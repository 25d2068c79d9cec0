package auth

import (
	"context"
	"os"
	"time"
)

// Watch polls the tokens file every PollInterval until ctx ends and reloads it when it changes,
// as Reload does. A change is a different file (replaced by a rename, or a symlink pointed
// elsewhere, as Kubernetes does with mounted secrets), size or modification time; a changed file
// with the content of the policy in force is not reloaded. A file that fails to load is logged
// once per change and leaves the old policy in force. Without a TokensFile Watch returns at once.
// Run it in its own goroutine.
func (a *Auth) Watch(ctx context.Context) {
	if a.opts.TokensFile == "" {
		return
	}
	tick := time.NewTicker(a.opts.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a.poll()
		if a.polled != nil {
			a.polled()
		}
	}
}

// poll reloads the tokens file if it changed since it was last seen.
func (a *Auth) poll() {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	fi, err := os.Stat(a.opts.TokensFile)
	if err != nil {
		// A file being replaced may be missing for a moment; the policy in force stands, and
		// the next poll looks again. A file gone for good is reported once.
		if a.seen != nil {
			a.log.Warn("auth tokens file unreadable; the policy in force stays", "file", a.opts.TokensFile, "error", err)
		}
		a.seen = nil
		return
	}
	if a.seen != nil && os.SameFile(a.seen, fi) && a.seen.Size() == fi.Size() && a.seen.ModTime().Equal(fi.ModTime()) {
		return
	}
	a.seen = fi
	_ = a.reloadLocked(true) // logged there
}
