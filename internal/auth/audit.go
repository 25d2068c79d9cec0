package auth

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Principal ids of audit and refusal lines for calls without a principal.
const (
	anonymous       = "anonymous"       // auth is off
	unauthenticated = "unauthenticated" // the call's credentials were refused
)

// audit writes the audit line of an admin operation: who, what, on which counter, and how it
// ended. It never includes tokens or counter values.
func (a *Auth) audit(ctx context.Context, p *Principal, method string, req any, err error) {
	a.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("principal", principalID(a, p)),
		slog.String("method", method),
		slog.String("counter", auditedCounter(req)),
		slog.String("code", status.Code(err).String()))
}

// refused logs a call refused for its credentials or permissions. An admin operation's refusal
// is its audit line; other refusals are logged at info level when the credentials were refused
// (clients without a token, scanners) and at warn level when a principal overstepped its rights.
func (a *Auth) refused(ctx context.Context, p *Principal, method string, r rule, req any, err error) {
	if r.audit {
		a.audit(ctx, p, method, req, err)
		return
	}
	level := slog.LevelWarn
	if status.Code(err) == codes.Unauthenticated {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{
		slog.String("principal", principalID(a, p)),
		slog.String("method", method),
		slog.String("code", status.Code(err).String()),
		slog.String("reason", status.Convert(err).Message()),
	}
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		attrs = append(attrs, slog.String("peer", pr.Addr.String()))
	}
	a.log.LogAttrs(ctx, level, "call refused", attrs...)
}

func principalID(a *Auth, p *Principal) string {
	switch {
	case p != nil:
		return p.ID
	case !a.Enabled():
		return anonymous
	}
	return unauthenticated
}

// auditedCounter is the resource name of the counter an admin request is about.
func auditedCounter(req any) string {
	switch r := req.(type) {
	case *tallyv1.CreateCounterRequest:
		return namePrefix + r.GetCounterId()
	case *tallyv1.UpdateCounterRequest:
		return r.GetCounter().GetName()
	case *tallyv1.ResetCounterRequest:
		return r.GetName()
	case *tallyv1.DeleteCounterRequest:
		return r.GetName()
	}
	return ""
}
