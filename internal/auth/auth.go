package auth

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure an Auth.
type Options struct {
	// TokensFile is the policy file (Load). Empty: no tokens are accepted.
	TokensFile string
	// ClientCerts says that the server verifies client certificates against a client CA
	// (ServerTLSConfig with a clientCAFile). It turns auth on even without a TokensFile; then,
	// the CA being the only policy there is, every verified certificate is a principal named by
	// its identity (Subject CN, else its first SAN) with every permission on every counter.
	// With a TokensFile a certificate counts only through a principal's cert_identity.
	ClientCerts bool
	// Logger receives audit lines, refusals and policy reloads; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often Watch looks at the tokens file; default 1s.
	PollInterval time.Duration
}

// DefaultPollInterval is Watch's default period.
const DefaultPollInterval = time.Second

// Auth authenticates and authorises calls (UnaryInterceptor, StreamInterceptor). With neither a
// TokensFile nor ClientCerts it is off: every call is allowed, and only audit lines are written.
type Auth struct {
	opts Options
	log  *slog.Logger
	// policy is the policy in force: nil without a TokensFile. Each call loads it once and
	// keeps it, so a reload never changes the rules under a call in progress.
	policy atomic.Pointer[Policy]
	// reloadMu serialises reloads (Reload, from SIGHUP, and Watch) and guards seen.
	reloadMu sync.Mutex
	// seen is the SHA-256 of the tokens file's content as last looked at, loaded or not (nil
	// while unreadable), so that a file that fails to load is reported once, not on every poll.
	// Content, not size and modification time: a rewrite of the same size within the
	// file system's time granularity must not go unnoticed (a revoked token would stay valid).
	seen *[sha256.Size]byte
	// polled, when set (by tests), is called after each of Watch's looks at the file.
	polled func()
	// live are the streams in progress, checked again by each reload.
	live liveStreams
}

// New returns an Auth for opts, with the tokens file loaded: a file that fails to load is an
// error, so that a server does not start with a policy other than the one configured.
func New(opts Options) (*Auth, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	a := &Auth{opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if opts.TokensFile == "" {
		return a, nil
	}
	pol, err := Load(opts.TokensFile)
	if err != nil {
		return nil, err
	}
	a.policy.Store(pol)
	a.seen = &pol.digest
	a.log.Info("auth policy loaded", "file", opts.TokensFile, "principals", pol.Len())
	return a, nil
}

// Enabled reports whether calls are authenticated: with a TokensFile or ClientCerts.
func (a *Auth) Enabled() bool { return a.opts.TokensFile != "" || a.opts.ClientCerts }

// Policy returns the policy in force, nil without a TokensFile.
func (a *Auth) Policy() *Policy { return a.policy.Load() }

// Reload reads the tokens file again and puts it in force; unary calls in progress finish under
// the policy they started with, and streams it refuses are ended (live.go). A file that fails to load leaves the old policy in force. Reload logs
// its outcome (an error at error level), so a caller such as a SIGHUP handler need not; the error
// is returned too. Without a TokensFile it does nothing.
func (a *Auth) Reload() error {
	if a.opts.TokensFile == "" {
		return nil
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if data, err := os.ReadFile(a.opts.TokensFile); err == nil {
		d := sha256.Sum256(data)
		a.seen = &d
	}
	return a.reloadLocked(false)
}

// reloadLocked loads the tokens file and, if it loads, puts it in force. With skipSame, a file
// whose content is that of the policy in force (touched, or copied over with the same bytes) is
// left alone.
func (a *Auth) reloadLocked(skipSame bool) error {
	pol, err := Load(a.opts.TokensFile)
	if err != nil {
		err = fmt.Errorf("%w (the previous policy stays in force)", err)
		a.log.Error("auth policy not reloaded", "error", err)
		return err
	}
	if old := a.policy.Load(); skipSame && old != nil && old.digest == pol.digest {
		return nil
	}
	a.policy.Store(pol)
	a.log.Info("auth policy reloaded", "file", a.opts.TokensFile, "principals", pol.Len())
	a.recheck()
	return nil
}
