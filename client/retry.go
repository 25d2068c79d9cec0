package client

import (
	"context"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// RetryPolicy bounds the retries of one call. A call is attempted at most MaxAttempts times;
// before attempt n+1 the client waits a random time between half and all of
// min(MaxBackoff, InitialBackoff × Multiplier^(n-1)), and never past the call's context.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt too: 1 disables retries, a negative value leaves the
	// context as the only bound. 0 means the default.
	MaxAttempts int
	// InitialBackoff is the longest wait before the first retry; 0 means the default.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait before any retry; 0 means the default.
	MaxBackoff time.Duration
	// Multiplier grows the wait from one retry to the next; values below 1 mean the default.
	Multiplier float64
}

// DefaultRetryPolicy is the policy of a Client without WithRetry: ten attempts spread over
// about five seconds at most.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts:    10,
	InitialBackoff: 50 * time.Millisecond,
	MaxBackoff:     2 * time.Second,
	Multiplier:     2,
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultRetryPolicy.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultRetryPolicy.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Multiplier < 1 {
		p.Multiplier = DefaultRetryPolicy.Multiplier
	}
	return p
}

// allowsAfter reports whether another attempt may follow attempt n (1-based).
func (p RetryPolicy) allowsAfter(n int) bool {
	return p.MaxAttempts < 0 || n < p.MaxAttempts
}

// backoff is the wait after attempt n (1-based) failed, for a random r in [0, 1): between half
// of the ceiling and the ceiling, so that clients failing together spread out but none waits
// much less than the policy asks.
func (p RetryPolicy) backoff(n int, r float64) time.Duration {
	ceiling := float64(p.InitialBackoff) * math.Pow(p.Multiplier, float64(n-1))
	if ceiling > float64(p.MaxBackoff) || math.IsInf(ceiling, 0) || math.IsNaN(ceiling) {
		ceiling = float64(p.MaxBackoff)
	}
	return time.Duration(ceiling/2 + r*ceiling/2)
}

// outcome tells whether a failed call can be sent again without risk of applying it twice.
type outcome int

const (
	// idempotent calls (reads, keyed writes, setting a configuration) may be repeated whatever
	// happened to the earlier attempt.
	idempotent outcome = iota
	// unsafe calls (writes without a key, create, delete) are repeated only when the earlier
	// attempt certainly applied nothing.
	unsafe
)

// retryable reports whether a call that failed with err may be attempted again. sent tells
// whether the attempt reached a connection; one that did not applied nothing.
//
// RESOURCE_EXHAUSTED (load shed) and ABORTED (contention) mean nothing was applied, and are
// retried for any call. UNAVAILABLE means the outcome is unknown once the call was sent, and
// is retried only for idempotent calls, or when the call never left. Every other code,
// DEADLINE_EXCEEDED and CANCELLED included, is final.
func retryable(err error, sent bool, o outcome) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.ResourceExhausted, codes.Aborted:
		return true
	case codes.Unavailable:
		return o == idempotent || !sent
	}
	return false
}

// attemptFunc makes one attempt of a call with extra call options.
type attemptFunc func(ctx context.Context, opts ...grpc.CallOption) error

// do runs a call under the retry policy and returns how many attempts it made. The error is the
// last attempt's, converted; when the context ended first it matches the context's error too.
func (c *Client) do(ctx context.Context, o outcome, attempt attemptFunc) (int, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	var last error
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			return n - 1, contextError(ctx, last)
		}
		var p peer.Peer
		err := attempt(ctx, grpc.Peer(&p))
		if err == nil {
			return n, nil
		}
		last = err
		if ctx.Err() != nil {
			return n, contextError(ctx, err)
		}
		if !c.retry.allowsAfter(n) || !retryable(err, p.Addr != nil, o) {
			return n, convert(err)
		}
		if !wait(ctx, c.retry.backoff(n, c.jitter())) {
			return n, contextError(ctx, err)
		}
	}
}

// callContext applies the client's default timeout to a context without a deadline.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has || c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// contextError is the error of a call whose context ended: the context's error, with the last
// attempt's error, if any, so that both errors.Is(err, context.Canceled) and
// errors.Is(err, ErrUnavailable) say what happened.
func contextError(ctx context.Context, last error) error {
	if last == nil {
		return ctx.Err()
	}
	converted := convert(last)
	if code := status.Code(last); code == codes.Canceled || code == codes.DeadlineExceeded {
		// The attempt itself was cut short by the context; its error says so already.
		return converted
	}
	return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), converted)
}

// wait waits for d or until ctx ends, and reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
