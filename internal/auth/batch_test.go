package auth

import (
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
