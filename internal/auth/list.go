package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// ListCounters lists only counters within the principal's prefixes, and never calls the handler
// with a prefix that reaches beyond them: so no page, and no page token, can reveal a counter
// the principal may not see (a page token holds the id of the last counter of its page).
//
//   - A request prefix within one of the principal's prefixes lists permitted counters only: the
//     request goes through unchanged.
//   - When exactly one of the principal's prefixes extends the request prefix (prefix "" for a
//     principal of ["web-"]), the request is narrowed to it; its page tokens are the handler's,
//     and work on the next request because the same request is narrowed the same way.
//   - When several do, the handler lists each of them in turn, in order: prefixes none of which
//     starts another cover disjoint ranges of ids, so the pages come out in id order as the API
//     promises. A page is filled from successive calls of the handler, at most maxListCalls of
//     them (the API allows a page shorter than asked for even when more follow). Its page token
//     (walkToken) names the prefix being listed and carries the handler's token within it.
//   - When none does, the call is refused with PERMISSION_DENIED, as every other method refuses
//     a counter outside the principal's prefixes. An empty page would be as safe (the answer
//     depends only on the policy, never on which counters exist) but would make a client
//     configured with the wrong prefix believe there are no counters.
func (a *Auth) list(ctx context.Context, p *Principal, req *tallyv1.ListCountersRequest, handler grpc.UnaryHandler) (any, error) {
	prefix := req.GetPrefix()
	if p.Allows(prefix) {
		return handler(ctx, req)
	}
	subs := extending(p.Prefixes, prefix)
	switch len(subs) {
	case 0:
		err := status.Errorf(codes.PermissionDenied, "prefix: %s is outside the prefixes of principal %q", echo(prefix), p.ID)
		a.refused(ctx, p, tallyv1.CounterService_ListCounters_FullMethodName, rule{}, req, err)
		return nil, err
	case 1:
		narrowed := proto.CloneOf(req)
		narrowed.Prefix = subs[0]
		return handler(ctx, narrowed)
	}
	return walk(ctx, req, subs, handler)
}

// maxListCalls bounds the handler calls that fill one page of a listing over several prefixes,
// so that many empty prefixes cost a client more pages, not one unbounded call.
const maxListCalls = 8

// walk lists the request's page over subs, the principal's prefixes that extend its prefix.
func walk(ctx context.Context, req *tallyv1.ListCountersRequest, subs []string, handler grpc.UnaryHandler) (any, error) {
	i, inner := 0, ""
	if req.GetPageToken() != "" {
		// Sub must still be one of the principal's prefixes: a policy reload may have taken it away.
		tok, err := decodeWalkToken(req.GetPageToken())
		if err == nil {
			i = slices.Index(subs, tok.Sub)
		}
		if err != nil || i < 0 || tok.Prefix != req.GetPrefix() || tok.Values != withValues(req) {
			return nil, badPageToken()
		}
		inner = tok.Inner
	}
	want, err := shard.PageSize(int(req.GetPageSize()))
	if err != nil {
		// Let the handler refuse page_size in its own words, listing a permitted prefix only.
		narrowed := proto.CloneOf(req)
		narrowed.Prefix, narrowed.PageToken = subs[0], ""
		return handler(ctx, narrowed)
	}
	out := &tallyv1.ListCountersResponse{}
	for calls := 0; i < len(subs) && len(out.Counters) < want && calls < maxListCalls; calls++ {
		sub := proto.CloneOf(req)
		sub.Prefix, sub.PageToken, sub.PageSize = subs[i], inner, int32(want-len(out.Counters))
		resp, err := handler(ctx, sub)
		if err != nil {
			return nil, err
		}
		page, ok := resp.(*tallyv1.ListCountersResponse)
		if !ok {
			return nil, status.Errorf(codes.Internal, "ListCounters answered a %T", resp)
		}
		out.Counters = append(out.Counters, page.GetCounters()...)
		if inner = page.GetNextPageToken(); inner == "" {
			i++
		}
	}
	if i < len(subs) {
		out.NextPageToken = walkToken{Prefix: req.GetPrefix(), Values: withValues(req), Sub: subs[i], Inner: inner}.encode()
	}
	return out, nil
}

// extending returns, in order, the prefixes that extend prefix, leaving out any that another of
// them starts (its counters are listed with the other's), so that the ranges are disjoint.
func extending(prefixes []string, prefix string) []string {
	var subs []string
	for _, p := range prefixes {
		if strings.HasPrefix(p, prefix) {
			subs = append(subs, p)
		}
	}
	slices.Sort(subs)
	subs = slices.Compact(subs)
	// Sorted, a prefix comes right after the prefixes that start it, so keeping only those not
	// started by the last one kept removes every covered one.
	var out []string
	for _, s := range subs {
		if len(out) == 0 || !strings.HasPrefix(s, out[len(out)-1]) {
			out = append(out, s)
		}
	}
	return out
}

// walkToken is the page token of a listing over several prefixes: the request it continues
// (Prefix, and whether it lists values), the principal's prefix being listed and the handler's page token within it
// ("" to start that prefix). A forged one can do no harm: Sub must be one of the principal's
// prefixes, and the handler checks Inner against it.
type walkToken struct {
	Prefix string `json:"p,omitempty"`
	Values bool   `json:"v,omitempty"`
	Sub    string `json:"s"`
	Inner  string `json:"t,omitempty"`
}

// withValues tells the views apart as the handler's tokens do: FULL, or not.
func withValues(req *tallyv1.ListCountersRequest) bool {
	return req.GetView() == tallyv1.CounterView_COUNTER_VIEW_FULL
}

func (t walkToken) encode() string {
	b, _ := json.Marshal(t) // strings and a bool cannot fail to marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeWalkToken(s string) (walkToken, error) {
	var t walkToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	return t, err
}

// badPageToken is the service's answer to a page token it did not issue for this request:
// INVALID_ARGUMENT naming page_token, with a google.rpc.BadRequest field violation.
func badPageToken() error {
	const msg = "the page token is malformed or was issued for a different prefix or view"
	st, err := status.New(codes.InvalidArgument, "page_token: "+msg).WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "page_token", Description: msg}},
	})
	if err != nil {
		return status.Error(codes.InvalidArgument, "page_token: "+msg)
	}
	return st.Err()
}
