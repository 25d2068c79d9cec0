package auth

import (
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// Watch polls the tokens file every PollInterval until ctx ends and reloads it when it changes,
// as Reload does. A change is a different file (replaced by a rename, or a symlink pointed
// elsewhere, as Kubernetes does with mounted secrets) or the same file rewritten: any change of
// content; a file rewritten with the content of the policy in force is not reloaded. A file that fails to load is logged
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

// poll reloads the tokens file if its content changed since it was last seen. Reading a file
// of a few kilobytes every PollInterval costs nothing worth saving.
func (a *Auth) poll() {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	data, err := os.ReadFile(a.opts.TokensFile)
	if err != nil {
		// A file being replaced may be missing for a moment; the policy in force stands, and
		// the next poll looks again. A file gone for good is reported once.
		if a.seen != nil {
			a.log.Warn("auth tokens file unreadable; the policy in force stays", "file", a.opts.TokensFile, "error", err)
		}
		a.seen = nil
		return
	}
	d := sha256.Sum256(data)
	if a.seen != nil && *a.seen == d {
		return
	}
	a.seen = &d
	_ = a.reloadLocked(true) // logged there
}
