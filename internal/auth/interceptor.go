package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// UnaryInterceptor authenticates and authorises each unary call before its handler runs, puts
// the principal in the handler's context (PrincipalFrom), and writes the audit lines of admin
// operations. Install it after interceptors that shed load or set deadlines, so that a shed call
// costs no policy lookup, and before any that reads PrincipalFrom.
func (a *Auth) UnaryInterceptor() grpc.UnaryServerInterceptor { return a.unary }

// StreamInterceptor does for streaming calls what UnaryInterceptor does for unary ones. The
// counters a stream names arrive in its messages, after the handler has started, so they are
// checked as the handler receives each message, before it can act on it: a refused name fails
// that receive with PERMISSION_DENIED, which ends the call. Streams that rules do not list, and
// client streams, are refused. A stream in progress when another policy comes into force is
// checked again and ended with the new policy's refusal, if it refuses it (live.go).
func (a *Auth) StreamInterceptor() grpc.StreamServerInterceptor { return a.stream }

func (a *Auth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod
	if isOpen(method) {
		return handler(ctx, req)
	}
	r, known := rules[method]
	if !a.Enabled() {
		resp, err := handler(ctx, req)
		if r.audit {
			a.audit(ctx, nil, method, req, err)
		}
		return resp, err
	}
	p, err := a.authenticate(ctx)
	if err == nil {
		err = authorize(p, method, r, known)
	}
	list, isList := req.(*tallyv1.ListCountersRequest)
	if err == nil && !isList {
		err = checkNames(p, req)
	}
	if err != nil {
		a.refused(ctx, p, method, r, req, err)
		return nil, err
	}
	ctx = withPrincipal(ctx, p)
	if isList {
		return a.list(ctx, p, list, handler)
	}
	resp, err := handler(ctx, req)
	if r.audit {
		a.audit(ctx, p, method, req, err)
	}
	return resp, err
}

func (a *Auth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	method := info.FullMethod
	if isOpen(method) || !a.Enabled() {
		return handler(srv, ss)
	}
	r, known := rules[method]
	ctx := ss.Context()
	p, err := a.authenticate(ctx)
	if err == nil {
		// tally.v1's streams are server streams of one request; a client stream would need its
		// every message checked against a principal that may lose its rights meanwhile.
		err = authorize(p, method, r, known && !info.IsClientStream)
	}
	if err != nil {
		a.refused(ctx, p, method, r, nil, err)
		return err
	}
	streamCtx, end := context.WithCancelCause(withPrincipal(ctx, p))
	defer end(nil)
	live := &liveStream{callCtx: ctx, method: method, rule: r, end: end}
	a.live.add(live)
	defer a.live.remove(live)
	err = handler(srv, &checkedStream{ServerStream: ss, auth: a, p: p, method: method, rule: r, ctx: streamCtx, live: live})
	if rerr := revocation(streamCtx); rerr != nil {
		return rerr // the handler saw its context canceled; the client learns why
	}
	return err
}

// checkedStream checks the counters named by each message its handler receives.
type checkedStream struct {
	grpc.ServerStream
	auth   *Auth
	p      *Principal
	method string
	rule   rule
	ctx    context.Context
	live   *liveStream
}

func (s *checkedStream) Context() context.Context { return s.ctx }

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := checkNames(s.p, m); err != nil {
		s.auth.refused(s.ctx, s.p, s.method, s.rule, m, err)
		return err
	}
	s.live.receivedMsg(m)
	return nil
}

// authenticate returns the principal the call's credentials prove, or an UNAUTHENTICATED error.
// A token, when one is presented, decides: an invalid one is refused even if a valid certificate
// is presented too, because a client that sends a token means to be that token's principal.
func (a *Auth) authenticate(ctx context.Context) (*Principal, error) {
	pol := a.policy.Load() // once: the whole call sees one policy
	token, present, err := tokenFrom(ctx)
	switch {
	case err != nil:
		return nil, status.Errorf(codes.Unauthenticated, "%v in %s or %s", err, TokenHeader, AuthorizationHeader)
	case present:
		var p *Principal
		if pol != nil {
			p = pol.byToken(token)
		}
		if p == nil {
			return nil, status.Error(codes.Unauthenticated, "unknown token")
		}
		return p, nil
	}
	if leaf := verifiedLeaf(ctx); leaf != nil {
		if pol == nil {
			if a.opts.ClientCerts {
				return &Principal{ID: certName(leaf), Prefixes: []string{""}, Permissions: allPermissions}, nil
			}
			return nil, status.Error(codes.Unauthenticated, "client certificates are not accepted without a policy")
		}
		p, err := pol.byCert(leaf)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		return p, nil
	}
	return nil, status.Errorf(codes.Unauthenticated,
		"missing credentials: send a token in %s (or %s: Bearer), or a client certificate", TokenHeader, AuthorizationHeader)
}

// authorize checks that p may call the method at all; the counters it names are checked later.
func authorize(p *Principal, method string, r rule, known bool) error {
	if !known {
		return status.Errorf(codes.PermissionDenied, "method %s is not open to any principal", method)
	}
	if !p.Has(r.perm) {
		return status.Errorf(codes.PermissionDenied, "principal %q lacks the %s permission that %s needs", p.ID, r.perm, method)
	}
	return nil
}
