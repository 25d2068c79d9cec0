package auth

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestReloadRechecksWatches: WatchCounter has no deadline, so a watch open when another policy
// comes into force is checked again: ended with the refusal if the new policy takes the token,
// the permission or the counter's prefix away, and left streaming otherwise.
func TestReloadRechecksWatches(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		change func(p testPrincipal) (testPrincipal, bool) // the web-ro principal in the new policy; false drops it
		want   codes.Code                                  // OK: the watch goes on
	}{
		{"token revoked", func(p testPrincipal) (testPrincipal, bool) { return p, false }, codes.Unauthenticated},
		{"read permission taken away", func(p testPrincipal) (testPrincipal, bool) {
			p.Permissions = []string{"write"}
			return p, true
		}, codes.PermissionDenied},
		{"prefix taken away", func(p testPrincipal) (testPrincipal, bool) {
			p.Prefixes = []string{"app-"}
			return p, true
		}, codes.PermissionDenied},
		{"unchanged", func(p testPrincipal) (testPrincipal, bool) { return p, true }, codes.OK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{principals: testPrincipals})
			e.seed(t, "web-a")
			ctx := withToken(testContext(t), tokWebRO)
			stream, err := e.client.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: "counters/web-a"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("first update: %v", err)
			}
			var next []testPrincipal
			for _, p := range testPrincipals {
				if p.Token == tokWebRO {
					var keep bool
					if p, keep = tt.change(p); !keep {
						continue
					}
				}
				next = append(next, p)
			}
			writeFile(t, e.tokensFile, policyJSON(t, next...))
			if err := e.auth.Reload(); err != nil {
				t.Fatal(err)
			}
			if _, err := e.counters.Increment(testContext(t), "web-a", 1, ""); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if got := status.Code(err); got != tt.want {
				t.Fatalf("after the reload: %v (update %v), want %v", err, resp.GetCounter(), tt.want)
			}
		})
	}
}
