package auth

import (
	"context"
	"errors"
	"sync"
)

// liveStreams are the streaming calls in progress. A unary call finishes under the policy it
// started with, but a stream such as WatchCounter may last for days: when another policy comes
// into force, each stream is checked again, as if it started now, and one the new policy refuses
// (its token revoked, its permission or its counters' prefix taken away) is ended with the
// refusal.
type liveStreams struct {
	mu  sync.Mutex
	set map[*liveStream]struct{}
}

// liveStream is one streaming call: what it was authorised with, and what it received.
type liveStream struct {
	callCtx context.Context // the call's own context, which holds its credentials
	method  string
	rule    rule
	end     context.CancelCauseFunc

	mu       sync.Mutex
	received []any // the messages checked so far, each naming counters
}

// revoked is the cause a stream's context is canceled with when a new policy refuses it.
type revoked struct{ err error }

func (r *revoked) Error() string { return r.err.Error() }

// revocation returns the refusal that ended a stream whose context is ctx, if one did.
func revocation(ctx context.Context) error {
	var r *revoked
	if errors.As(context.Cause(ctx), &r) {
		return r.err
	}
	return nil
}

func (l *liveStreams) add(s *liveStream) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil {
		l.set = make(map[*liveStream]struct{})
	}
	l.set[s] = struct{}{}
}

func (l *liveStreams) remove(s *liveStream) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.set, s)
}

func (s *liveStream) receivedMsg(m any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, m)
}

// recheck checks every live stream against the policy now in force and ends those it refuses.
func (a *Auth) recheck() {
	a.live.mu.Lock()
	streams := make([]*liveStream, 0, len(a.live.set))
	for s := range a.live.set {
		streams = append(streams, s)
	}
	a.live.mu.Unlock()
	for _, s := range streams {
		p, err := a.authenticate(s.callCtx)
		if err == nil {
			err = authorize(p, s.method, s.rule, true)
		}
		if err == nil {
			s.mu.Lock()
			for _, m := range s.received {
				if err = checkNames(p, m); err != nil {
					break
				}
			}
			s.mu.Unlock()
		}
		if err != nil {
			a.refused(s.callCtx, p, s.method, s.rule, nil, err)
			s.end(&revoked{err: err})
		}
	}
}
