package client

import (
	"crypto/tls"
	"time"

	"google.golang.org/grpc"
)

// Option configures a Client.
type Option func(*settings)

// settings are what the options chose.
type settings struct {
	tls            *tls.Config
	caFile         string
	token, idToken string
	insecureTokens bool
	timeout        time.Duration
	retry          RetryPolicy
	dialOptions    []grpc.DialOption
}

// WithTLS connects over TLS with config; nil means TLS verified against the system's roots.
// Without WithTLS or WithCAFile the connection is plaintext.
func WithTLS(config *tls.Config) Option {
	return func(s *settings) {
		if config == nil {
			config = &tls.Config{}
		}
		s.tls = config.Clone()
	}
}

// WithCAFile connects over TLS, verifying the server against the PEM certificates in path
// instead of the system's roots.
func WithCAFile(path string) Option {
	return func(s *settings) { s.caFile = path }
}

// WithToken sends token with every call in the x-tally-token header, which a tallyd with a
// tokens file checks.
func WithToken(token string) Option {
	return func(s *settings) { s.token = token }
}

// WithIDToken sends token with every call as "authorization: Bearer token", for Cloud Run's IAM
// invoker check in front of tallyd. It goes along with WithToken.
func WithIDToken(token string) Option {
	return func(s *settings) { s.idToken = token }
}

// WithInsecureTokens lets tokens travel over a plaintext connection to another machine. Without
// it a call that would send a token in the clear to anything but a loopback address fails with
// ErrUnauthenticated before it is sent: anyone on the network path could read the token.
func WithInsecureTokens() Option {
	return func(s *settings) { s.insecureTokens = true }
}

// WithTimeout gives every call whose context has no deadline this one, counted from the start
// of the call and covering all of its attempts. Watch is exempt: a stream lasts until its
// context ends. 0, the default, adds no deadline.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) { s.timeout = d }
}

// WithRetry replaces the default retry policy (DefaultRetryPolicy); zero fields take the
// default's values.
func WithRetry(p RetryPolicy) Option {
	return func(s *settings) { s.retry = p.withDefaults() }
}

// WithDialOptions adds gRPC dial options, applied after the client's own, so that they win
// where both set the same thing (an interceptor, a dialer, other credentials).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOptions = append(s.dialOptions, opts...) }
}

// WriteOption chooses how Increment, BatchIncrement and Reset use idempotency keys.
type WriteOption func(*writeSettings)

type writeSettings struct {
	key   string
	noKey bool
	own   bool // the key came from WithKey
}

// WithKey sends key as the call's idempotency key instead of a fresh random one. The server
// applies a key at most once per counter (per set of counters for a batch) within its retention
// window, so a caller that stores its own keys can repeat a call after a crash: a repeat reports
// Result.Duplicate. An empty key means a fresh random one, as without WithKey.
func WithKey(key string) WriteOption {
	return func(w *writeSettings) { w.key, w.noKey = key, false }
}

// WithoutKey sends no idempotency key. Retries are then limited to the failures in which the
// server applied nothing (RESOURCE_EXHAUSTED, ABORTED, a connection that could not be made); a
// call whose outcome is unknown (UNAVAILABLE after it was sent) fails, because sending it again
// could count it twice. A caller who retries such a call itself gets at-least-once counting.
func WithoutKey() WriteOption {
	return func(w *writeSettings) { w.key, w.noKey = "", true }
}

// ReadOption changes what Get and BatchGet read.
type ReadOption func(*readSettings)

type readSettings struct {
	at time.Time
}

// At reads the value the counter had at t instead of its current value. t must not be in the
// future (ErrInvalidArgument) and must lie inside the window the storage keeps versions for
// (ErrFailedPrecondition otherwise): an hour by default in the emulator, Firestore's
// point-in-time recovery window in production.
func At(t time.Time) ReadOption {
	return func(r *readSettings) { r.at = t }
}

// WatchOption changes a Watch.
type WatchOption func(*watchSettings)

type watchSettings struct {
	minInterval time.Duration
	retry       *RetryPolicy
	onReconnect func(error)
}

// MinInterval asks for at most one update per d; changes within it arrive as one update with
// the latest value. 0 means the server's default, and the server raises values below its
// minimum.
func MinInterval(d time.Duration) WatchOption {
	return func(w *watchSettings) { w.minInterval = d }
}

// WatchRetry bounds the watch's reconnects by p instead of the client's RetryPolicy;
// MaxAttempts -1 reconnects until the context ends.
func WatchRetry(p RetryPolicy) WatchOption {
	return func(w *watchSettings) {
		p = p.withDefaults()
		w.retry = &p
	}
}

// OnReconnect calls f with the error that broke the stream each time the watch is about to
// reconnect, so that a program can tell its user; f runs on the watching goroutine.
func OnReconnect(f func(err error)) WatchOption {
	return func(w *watchSettings) { w.onReconnect = f }
}

// ListOptions select the counters List and ListPage return.
type ListOptions struct {
	// Prefix keeps the counters whose ID starts with it; empty lists all.
	Prefix string
	// PageSize is the most counters per page; 0 means the server's default (50).
	PageSize int
	// Values reads each counter's value too (the FULL view); without it Value is 0 and
	// ReadTime is zero, and the shards are not read.
	Values bool
}

// CounterConfig is a counter's configuration at creation.
type CounterConfig struct {
	// ShardCount is the number of shards, 1 to 1,000; 0 means the server's default.
	ShardCount int
	// AdaptiveShards lets the server grow and shrink the shard count with the counter's load.
	AdaptiveShards bool
}
