package auth

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestBatchOutsidePrefix: one name outside the principal's prefixes refuses the whole batch,
// before any of it is applied, wherever the name is in the batch.
func TestBatchOutsidePrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: testPrincipals})
	ids := []string{"web-b1", "web-b2", "other-b3"}
	for _, id := range ids {
		e.seed(t, id)
	}
	before := e.state(t, ids...)
	ctx := withToken(testContext(t), tokWebRW)

	tests := []struct {
		name  string
		names []string
		field string // the field the error names
	}{
		{"last", []string{"web-b1", "web-b2", "other-b3"}, "[2]"},
		{"first", []string{"other-b3", "web-b1", "web-b2"}, "[0]"},
		{"one of many", append(repeat("web-b1", 60), append([]string{"other-b3"}, repeat("web-b2", 39)...)...), "[60]"},
	}
	for _, tt := range tests {
		t.Run("BatchIncrement/"+tt.name, func(t *testing.T) {
			var reqs []*tallyv1.IncrementRequest
			for _, id := range tt.names {
				reqs = append(reqs, &tallyv1.IncrementRequest{Name: name(id), Delta: 1})
			}
			_, err := e.client.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: reqs})
			wantDenied(t, err, "requests"+tt.field+".name")
		})
		t.Run("BatchGetCounters/"+tt.name, func(t *testing.T) {
			var ns []string
			for _, id := range tt.names {
				ns = append(ns, name(id))
			}
			_, err := e.client.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: ns})
			wantDenied(t, err, "names"+tt.field)
		})
	}
	after := e.state(t, ids...)
	for _, id := range ids {
		if !after[id].equal(before[id]) {
			t.Errorf("counter %q changed from %+v to %+v", id, before[id], after[id])
		}
	}

	// The same batch within the prefixes is applied: the refusals were the prefix's doing.
	if _, err := e.client.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
		{Name: name("web-b1"), Delta: 1}, {Name: name("web-b2"), Delta: 1},
	}}); err != nil {
		t.Fatal(err)
	}
	if got := e.state(t, "web-b1")["web-b1"].Value; got != 6 {
		t.Errorf("web-b1 is %d after a permitted batch, want 6", got)
	}
}

// TestMalformedNames: a name that is not counters/{id} is the service's to reject, with
// INVALID_ARGUMENT naming the field; a name of that form whose id is malformed is still checked
// against the prefixes.
func TestMalformedNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: testPrincipals})
	e.seed(t, "web-m")
	ctx := withToken(testContext(t), tokWebRW)
	tests := []struct {
		name string
		req  *tallyv1.BatchIncrementRequest
		want codes.Code
	}{
		{"not a counter name", &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
			{Name: name("web-m"), Delta: 1}, {Name: "web-m", Delta: 1}}}, codes.InvalidArgument},
		{"malformed id within the prefix", &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
			{Name: name("web-m"), Delta: 1}, {Name: name("web-m/x"), Delta: 1}}}, codes.InvalidArgument},
		{"malformed id outside the prefix", &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
			{Name: name("web-m"), Delta: 1}, {Name: name("other/x"), Delta: 1}}}, codes.PermissionDenied},
		{"outside the prefix before a malformed name", &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
			{Name: "", Delta: 1}, {Name: name("other"), Delta: 1}}}, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.BatchIncrement(ctx, tt.req)
			if status.Code(err) != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if got := e.state(t, "web-m")["web-m"].Value; got != 5 {
		t.Errorf("web-m is %d, want 5: a refused batch was applied", got)
	}
}

func wantDenied(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.PermissionDenied {
		t.Fatalf("got %v, want PermissionDenied", err)
	}
	if !strings.HasPrefix(st.Message(), field+": ") {
		t.Errorf("message %q does not name %s", st.Message(), field)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestBatchKeyIsScopedToTheBatchCounters: two tenants on disjoint prefixes using the same
// BatchIncrement key do not see each other. A key taken first by one tenant neither blocks the
// other's batch (which would fail FAILED_PRECONDITION and lose its count) nor answers it as a
// duplicate, and a tenant cannot learn from the answer whether the other used a key. Within one
// tenant a retry is a duplicate and other deltas under the key still fail.
func TestBatchKeyIsScopedToTheBatchCounters(t *testing.T) {
	t.Parallel()
	const tokA, tokB = "tly_tenant-a", "tly_tenant-b"
	e := newEnv(t, envOptions{principals: []testPrincipal{
		{ID: "tenant-a", Token: tokA, Prefixes: []string{"a-"}, Permissions: []string{"read", "write"}},
		{ID: "tenant-b", Token: tokB, Prefixes: []string{"b-"}, Permissions: []string{"read", "write"}},
	}})
	ctxA, ctxB := withToken(testContext(t), tokA), withToken(testContext(t), tokB)
	batch := func(ctx context.Context, key string, ids ...string) (*tallyv1.BatchIncrementResponse, error) {
		var reqs []*tallyv1.IncrementRequest
		for _, id := range ids {
			reqs = append(reqs, &tallyv1.IncrementRequest{Name: name(id), Delta: 5})
		}
		return e.client.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: reqs, IdempotencyKey: key})
	}
	wantApplied := func(who string, res *tallyv1.BatchIncrementResponse, err error) {
		t.Helper()
		if err != nil || res.GetDuplicate() {
			t.Errorf("%s: duplicate=%v, %v (%v); want applied", who, res.GetDuplicate(), status.Code(err), err)
		}
	}
	wantDuplicate := func(who string, res *tallyv1.BatchIncrementResponse, err error) {
		t.Helper()
		if err != nil || !res.GetDuplicate() {
			t.Errorf("%s: duplicate=%v, %v (%v); want a duplicate", who, res.GetDuplicate(), status.Code(err), err)
		}
	}

	// Tenant B takes a guessable key first, on its own counter; then tenant A uses it.
	res, err := batch(ctxB, "order-1001", "b-x")
	wantApplied("tenant B first", res, err)
	res, err = batch(ctxA, "order-1001", "a-orders", "a-items")
	wantApplied("tenant A after B used the key", res, err)
	res, err = batch(ctxA, "order-1001", "a-items", "a-orders")
	wantDuplicate("tenant A's retry", res, err)
	res, err = batch(ctxB, "order-1001", "b-x")
	wantDuplicate("tenant B's retry", res, err)

	// Tenant A uses a key first; tenant B's probe with it tells B nothing.
	res, err = batch(ctxA, "order-2002", "a-orders")
	wantApplied("tenant A first", res, err)
	res, err = batch(ctxB, "order-2002", "b-x")
	wantApplied("tenant B probing A's key", res, err)

	// Other deltas under a key on the same counters are still refused.
	_, err = e.client.BatchIncrement(ctxA, &tallyv1.BatchIncrementRequest{
		Requests: []*tallyv1.IncrementRequest{{Name: name("a-orders"), Delta: 6}}, IdempotencyKey: "order-2002"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("other deltas under a used key: %v (%v), want FAILED_PRECONDITION", status.Code(err), err)
	}

	st := e.state(t, "a-orders", "a-items", "b-x")
	for id, want := range map[string]int64{"a-orders": 10, "a-items": 5, "b-x": 10} {
		if got := st[id].Value; got != want {
			t.Errorf("%s = %d, want %d", id, got, want)
		}
	}
}
