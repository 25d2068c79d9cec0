package auth

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// requestIDHandler adds the x-request-id of the call in the record's context, as a handler adding
// trace ids would: audit lines are written with the call's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if ids := md.Get("x-request-id"); len(ids) > 0 {
		r.AddAttrs(slog.String("request_id", ids[0]))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(g string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(g)}
}

func TestAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: testPrincipals, wrapLog: func(h slog.Handler) slog.Handler { return requestIDHandler{h} }})
	e.seed(t, "web-au")
	call := func(token, requestID string, f func(ctx context.Context) error) {
		ctx := metadata.AppendToOutgoingContext(withToken(testContext(t), token), "x-request-id", requestID)
		_ = f(ctx)
	}
	c := e.client
	call(tokWebAll, "r1", func(ctx context.Context) error {
		_, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "web-au2"})
		return err
	})
	call(tokWebAll, "r2", func(ctx context.Context) error {
		_, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: name("web-au"), ShardCount: 4},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}}})
		return err
	})
	call(tokWebRW, "r3", func(ctx context.Context) error {
		_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: name("web-au")})
		return err
	})
	call("", "r4", func(ctx context.Context) error {
		_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: name("web-au")})
		return err
	})
	call(tokWebAll, "r5", func(ctx context.Context) error {
		_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: name("other-au")})
		return err
	})
	call(tokAdmin, "r6", func(ctx context.Context) error {
		_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: name("web-missing")})
		return err
	})
	// Not admin operations: refusals, not audit lines.
	call(tokWebRO, "r7", func(ctx context.Context) error {
		_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: name("web-au"), Delta: 1})
		return err
	})
	call(tokUnknown, "r8", func(ctx context.Context) error {
		_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: name("web-au")})
		return err
	})
	call(tokWebRW, "r9", func(ctx context.Context) error {
		_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: name("web-au"), Delta: 1})
		return err
	})

	type line struct{ level, principal, method, counter, code, requestID string }
	get := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	var audits, refusals []line
	for _, m := range e.logLines(t, "audit") {
		audits = append(audits, line{get(m, "level"), get(m, "principal"), get(m, "method"), get(m, "counter"), get(m, "code"), get(m, "request_id")})
	}
	for _, m := range e.logLines(t, "call refused") {
		refusals = append(refusals, line{get(m, "level"), get(m, "principal"), get(m, "method"), "", get(m, "code"), get(m, "request_id")})
	}
	const svc = "/tally.v1.CounterService/"
	wantAudits := []line{
		{"INFO", "web-all", svc + "CreateCounter", "counters/web-au2", "OK", "r1"},
		{"INFO", "web-all", svc + "UpdateCounter", "counters/web-au", "OK", "r2"},
		{"INFO", "web-rw", svc + "ResetCounter", "counters/web-au", "PermissionDenied", "r3"},
		{"INFO", "unauthenticated", svc + "DeleteCounter", "counters/web-au", "Unauthenticated", "r4"},
		{"INFO", "web-all", svc + "DeleteCounter", "counters/other-au", "PermissionDenied", "r5"},
		{"INFO", "admin", svc + "DeleteCounter", "counters/web-missing", "NotFound", "r6"},
	}
	wantRefusals := []line{
		{"WARN", "web-ro", svc + "Increment", "", "PermissionDenied", "r7"},
		{"INFO", "unauthenticated", svc + "GetCounter", "", "Unauthenticated", "r8"},
	}
	if !slices.Equal(audits, wantAudits) {
		t.Errorf("audit lines\n%v\nwant\n%v", audits, wantAudits)
	}
	if !slices.Equal(refusals, wantRefusals) {
		t.Errorf("refusal lines\n%v\nwant\n%v", refusals, wantRefusals)
	}
	logs := e.logs.String()
	for _, p := range testPrincipals {
		if p.Token != "" && (strings.Contains(logs, p.Token) || strings.Contains(logs, HashToken(p.Token))) {
			t.Errorf("the logs hold the token of %q or its hash", p.ID)
		}
	}
	if strings.Contains(logs, tokUnknown) {
		t.Error("the logs hold a presented unknown token")
	}
}

// TestAuditWithAuthOff: with auth off, admin operations are still audited, as anonymous.
func TestAuditWithAuthOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if _, err := e.client.CreateCounter(testContext(t), &tallyv1.CreateCounterRequest{CounterId: "free"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Increment(testContext(t), &tallyv1.IncrementRequest{Name: name("free"), Delta: 1}); err != nil {
		t.Fatal(err)
	}
	lines := e.logLines(t, "audit")
	if len(lines) != 1 || lines[0]["principal"] != "anonymous" || lines[0]["counter"] != "counters/free" || lines[0]["code"] != "OK" {
		t.Errorf("audit lines %v, want one for the create by anonymous", lines)
	}
}
