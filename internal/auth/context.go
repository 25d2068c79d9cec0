package auth

import "context"

type principalKey struct{}

// PrincipalFrom returns the principal an authenticated call runs as. ok is false when auth is
// off, and for the open services (health, reflection), which run without one.
func PrincipalFrom(ctx context.Context) (p *Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}
