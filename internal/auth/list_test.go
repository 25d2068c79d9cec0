package auth

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// listIDs are the counters of the ListCounters tests.
var listIDs = []string{"a-1", "a-2", "b-1", "b-2", "b-3", "b-4", "b-5", "c-1", "d-1", "z-1"}

// listPrincipals, each with read only.
var listPrincipals = []testPrincipal{
	{ID: "one", Token: "tly_one", Prefixes: []string{"b-"}},
	{ID: "several", Token: "tly_several", Prefixes: []string{"d-", "b-", "a-", "b-3"}},
	{ID: "many-empty", Token: "tly_many-empty", Prefixes: []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "z-"}},
	{ID: "split", Token: "tly_split", Prefixes: []string{"b-1", "b-2", "d-"}},
	{ID: "all", Token: "tly_all", Prefixes: []string{""}},
}

// listEnv is a server with listIDs, and the prefixes the ListCounters handler was called with.
type listEnv struct {
	*env
	mu       sync.Mutex
	prefixes []string
}

func newListEnv(t *testing.T) *listEnv {
	t.Helper()
	le := &listEnv{}
	var ps []testPrincipal
	for _, p := range listPrincipals {
		p.Permissions = []string{"read"}
		ps = append(ps, p)
	}
	le.env = newEnv(t, envOptions{principals: ps, unary: le.record})
	for _, id := range listIDs {
		le.seed(t, id)
	}
	return le
}

// record runs between the auth interceptor and the handler: it sees what the handler is asked.
func (le *listEnv) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r, ok := req.(*tallyv1.ListCountersRequest); ok {
		le.mu.Lock()
		le.prefixes = append(le.prefixes, r.GetPrefix())
		le.mu.Unlock()
	}
	return handler(ctx, req)
}

func (le *listEnv) handlerPrefixes() []string {
	le.mu.Lock()
	defer le.mu.Unlock()
	out := le.prefixes
	le.prefixes = nil
	return out
}

// listPages follows req's page tokens to the end and returns the ids of each page.
func listPages(t *testing.T, ctx context.Context, c tallyv1.CounterServiceClient, req *tallyv1.ListCountersRequest) [][]string {
	t.Helper()
	req = proto.CloneOf(req)
	var pages [][]string
	for range 100 {
		resp, err := c.ListCounters(ctx, req)
		if err != nil {
			t.Fatalf("ListCounters page %d: %v", len(pages)+1, err)
		}
		var ids []string
		for _, c := range resp.GetCounters() {
			ids = append(ids, strings.TrimPrefix(c.GetName(), "counters/"))
		}
		pages = append(pages, ids)
		if resp.GetNextPageToken() == "" {
			return pages
		}
		req.PageToken = resp.GetNextPageToken()
	}
	t.Fatal("ListCounters did not end in 100 pages")
	return nil
}

func TestList(t *testing.T) {
	t.Parallel()
	le := newListEnv(t)
	tests := []struct {
		name      string
		principal string
		req       *tallyv1.ListCountersRequest
		pages     [][]string
	}{
		{"every counter", "all", &tallyv1.ListCountersRequest{PageSize: 4},
			[][]string{{"a-1", "a-2", "b-1", "b-2"}, {"b-3", "b-4", "b-5", "c-1"}, {"d-1", "z-1"}}},
		{"prefix within the principal's", "one", &tallyv1.ListCountersRequest{Prefix: "b-3"},
			[][]string{{"b-3"}}},
		{"narrowed to the one permitted prefix", "one", &tallyv1.ListCountersRequest{PageSize: 2},
			[][]string{{"b-1", "b-2"}, {"b-3", "b-4"}, {"b-5"}}},
		{"narrowed from a shorter prefix", "one", &tallyv1.ListCountersRequest{Prefix: "b", PageSize: 3},
			[][]string{{"b-1", "b-2", "b-3"}, {"b-4", "b-5"}}},
		{"several permitted prefixes", "several", &tallyv1.ListCountersRequest{PageSize: 3},
			[][]string{{"a-1", "a-2", "b-1"}, {"b-2", "b-3", "b-4"}, {"b-5", "d-1"}}},
		{"several, in one page", "several", &tallyv1.ListCountersRequest{PageSize: 100},
			[][]string{{"a-1", "a-2", "b-1", "b-2", "b-3", "b-4", "b-5", "d-1"}}},
		{"several, one at a time", "several", &tallyv1.ListCountersRequest{PageSize: 1},
			[][]string{{"a-1"}, {"a-2"}, {"b-1"}, {"b-2"}, {"b-3"}, {"b-4"}, {"b-5"}, {"d-1"}}},
		{"several, full view", "several", &tallyv1.ListCountersRequest{PageSize: 5, View: tallyv1.CounterView_COUNTER_VIEW_FULL},
			[][]string{{"a-1", "a-2", "b-1", "b-2", "b-3"}, {"b-4", "b-5", "d-1"}}},
		// Ten empty prefixes take more handler calls than one page may make: the first page is
		// empty, and its token leads on.
		{"many empty prefixes", "many-empty", &tallyv1.ListCountersRequest{},
			[][]string{{}, {"z-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := principalByID(t, tt.principal)
			le.handlerPrefixes()
			got := listPages(t, withToken(testContext(t), p.Token), le.client, tt.req)
			for i := range got {
				if got[i] == nil {
					got[i] = []string{}
				}
			}
			if !slices.EqualFunc(got, tt.pages, slices.Equal) {
				t.Errorf("pages %q, want %q", got, tt.pages)
			}
			for _, prefix := range le.handlerPrefixes() {
				if !(&Principal{Prefixes: p.Prefixes}).Allows(prefix) {
					t.Errorf("the handler was asked to list prefix %q, beyond %q's prefixes %q", prefix, p.ID, p.Prefixes)
				}
			}
		})
	}
}

// TestListValues: the FULL view still reads values through a listing over several prefixes.
func TestListValues(t *testing.T) {
	t.Parallel()
	le := newListEnv(t)
	resp, err := le.client.ListCounters(withToken(testContext(t), "tly_several"),
		&tallyv1.ListCountersRequest{View: tallyv1.CounterView_COUNTER_VIEW_FULL})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.GetCounters() {
		if c.GetValue() != 5 || c.GetReadTime() == nil {
			t.Errorf("%s: value %d, read time %v; want 5 and a read time", c.GetName(), c.GetValue(), c.GetReadTime())
		}
	}
}

func TestListRefusals(t *testing.T) {
	t.Parallel()
	le := newListEnv(t)
	ctx := testContext(t)
	first := func(t *testing.T, token string, req *tallyv1.ListCountersRequest) string {
		t.Helper()
		resp, err := le.client.ListCounters(withToken(ctx, token), req)
		if err != nil || resp.GetNextPageToken() == "" {
			t.Fatalf("first page: %v, %v; want a page token", resp, err)
		}
		return resp.GetNextPageToken()
	}
	severalToken := first(t, "tly_several", &tallyv1.ListCountersRequest{PageSize: 1})
	// Listing a- to its end fills the page: the token starts b- afresh, with no handler token.
	boundaryToken := first(t, "tly_several", &tallyv1.ListCountersRequest{PageSize: 2})
	// b-1 fills the page; the token starts b-2, which a listing of prefix "b" covers too.
	splitToken := first(t, "tly_split", &tallyv1.ListCountersRequest{PageSize: 1})
	oneToken := first(t, "tly_one", &tallyv1.ListCountersRequest{PageSize: 1})
	// A handler's page token of a listing by "all" of prefix "b".
	foreignInner := first(t, "tly_all", &tallyv1.ListCountersRequest{Prefix: "b", PageSize: 1})

	tests := []struct {
		name  string
		token string
		req   *tallyv1.ListCountersRequest
		want  codes.Code
	}{
		{"no permitted prefix", "tly_one", &tallyv1.ListCountersRequest{Prefix: "a"}, codes.PermissionDenied},
		{"no permitted prefix among several", "tly_several", &tallyv1.ListCountersRequest{Prefix: "c"}, codes.PermissionDenied},
		{"token for another prefix", "tly_several", &tallyv1.ListCountersRequest{Prefix: "b", PageSize: 1, PageToken: severalToken}, codes.InvalidArgument},
		{"token for another view", "tly_several", &tallyv1.ListCountersRequest{PageSize: 1, PageToken: severalToken, View: tallyv1.CounterView_COUNTER_VIEW_FULL}, codes.InvalidArgument},
		{"token between prefixes for another view", "tly_several", &tallyv1.ListCountersRequest{PageToken: boundaryToken, View: tallyv1.CounterView_COUNTER_VIEW_FULL}, codes.InvalidArgument},
		{"token between prefixes", "tly_several", &tallyv1.ListCountersRequest{PageToken: boundaryToken}, codes.OK},
		{"token for another prefix over the same prefixes", "tly_split", &tallyv1.ListCountersRequest{Prefix: "b", PageToken: splitToken}, codes.InvalidArgument},
		{"narrowed token in a listing of the narrowed prefix", "tly_one", &tallyv1.ListCountersRequest{Prefix: "b-", PageToken: oneToken}, codes.OK},
		{"token of a narrowed listing in one over several", "tly_several", &tallyv1.ListCountersRequest{PageSize: 1, PageToken: oneToken}, codes.InvalidArgument},
		{"malformed token", "tly_several", &tallyv1.ListCountersRequest{PageToken: "!!"}, codes.InvalidArgument},
		{"forged token for a forbidden prefix", "tly_several", &tallyv1.ListCountersRequest{
			PageToken: walkToken{Sub: "c-", Inner: foreignInner}.encode()}, codes.InvalidArgument},
		{"forged token with a foreign handler token", "tly_several", &tallyv1.ListCountersRequest{
			PageToken: walkToken{Sub: "a-", Inner: foreignInner}.encode()}, codes.InvalidArgument},
		{"negative page size", "tly_several", &tallyv1.ListCountersRequest{PageSize: -1}, codes.InvalidArgument},
		{"bad view", "tly_several", &tallyv1.ListCountersRequest{View: 7}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le.handlerPrefixes()
			resp, err := le.client.ListCounters(withToken(ctx, tt.token), tt.req)
			if status.Code(err) != tt.want {
				t.Fatalf("got %v, %v; want %v", resp, err, tt.want)
			}
			p := principalByToken(t, tt.token)
			for _, prefix := range le.handlerPrefixes() {
				if !(&Principal{Prefixes: p.Prefixes}).Allows(prefix) {
					t.Errorf("the handler was asked to list prefix %q, beyond %q's prefixes %q", prefix, p.ID, p.Prefixes)
				}
			}
		})
	}
}

// TestListTokensRevealNothing: the page tokens of a listing over several prefixes hold no id of
// a counter the principal may not see (c-1 lies between b-5 and d-1).
func TestListTokensRevealNothing(t *testing.T) {
	t.Parallel()
	le := newListEnv(t)
	ctx := withToken(testContext(t), "tly_several")
	req := &tallyv1.ListCountersRequest{PageSize: 1}
	for {
		resp, err := le.client.ListCounters(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		tok := resp.GetNextPageToken()
		if tok == "" {
			return
		}
		if strings.Contains(decodeAll(tok), "c-1") {
			t.Fatalf("page token %q reveals c-1", decodeAll(tok))
		}
		req.PageToken = tok
	}
}

// decodeAll undoes the layers of base64 a page token may have.
func decodeAll(s string) string {
	out := s
	for {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return out
		}
		s = string(b)
		out += " " + s
		if i := strings.Index(s, `"t":"`); i >= 0 {
			s = s[i+5:]
			s = s[:strings.IndexByte(s, '"')]
		}
	}
}

func principalByID(t *testing.T, id string) testPrincipal {
	t.Helper()
	for _, p := range listPrincipals {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no principal %q", id)
	return testPrincipal{}
}

func principalByToken(t *testing.T, token string) testPrincipal {
	t.Helper()
	for _, p := range listPrincipals {
		if p.Token == token {
			return p
		}
	}
	t.Fatalf("no principal with token %q", token)
	return testPrincipal{}
}

func TestExtending(t *testing.T) {
	tests := []struct {
		prefixes []string
		prefix   string
		want     []string
	}{
		{[]string{"b-", "a-"}, "", []string{"a-", "b-"}},
		{[]string{"b-", "b-3", "b"}, "", []string{"b"}},
		{[]string{"b-3", "b-", "a"}, "b", []string{"b-"}},
		{[]string{"ab", "ab", "abc", "abd", "b"}, "a", []string{"ab"}},
		{[]string{"a", "b"}, "c", nil},
		{[]string{"web-"}, "web-x", nil}, // within, not extending: the caller handles it
	}
	for _, tt := range tests {
		if got := extending(tt.prefixes, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("extending(%q, %q) = %q, want %q", tt.prefixes, tt.prefix, got, tt.want)
		}
	}
}
