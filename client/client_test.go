package client_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tally-dev/tally/client"
	"github.com/tally-dev/tally/internal/dropproxy"
)

func TestCounterLifecycle(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	id := counterName(t, "c")

	created, err := c.Create(ctx, id, client.CounterConfig{ShardCount: 3})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.Name != "counters/"+id || created.ID != id || created.ShardCount != 3 || created.CreateTime.IsZero() {
		t.Errorf("Create = %+v", created)
	}
	if _, err := c.Increment(ctx, "counters/"+id, 40); err != nil {
		t.Fatalf("Increment by full name: %v", err)
	}
	res, err := c.Increment(ctx, id, 2)
	if err != nil {
		t.Fatalf("Increment: %v", err)
	}
	if res.Key == "" || res.Duplicate || res.Attempts != 1 || res.CommitTime.IsZero() {
		t.Errorf("Increment = %+v, want a fresh key, one attempt and a commit time", res)
	}
	got, err := c.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Value != 42 || got.ShardCount != 3 || got.ReadTime.Before(res.CommitTime) {
		t.Errorf("Get = %+v, want value 42 on 3 shards read after %v", got, res.CommitTime)
	}

	resized, err := c.Resize(ctx, id, 7)
	if err != nil {
		t.Fatalf("Resize: %v", err)
	}
	if resized.ShardCount != 7 || resized.Value != 42 {
		t.Errorf("Resize = %+v, want 7 shards and the value kept", resized)
	}

	if _, err := c.Reset(ctx, id); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if got, err := c.Get(ctx, id); err != nil || got.Value != 0 {
		t.Errorf("after Reset: %+v, %v; want value 0", got, err)
	}

	if err := c.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, id); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, id); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Delete again: %v, want ErrNotFound", err)
	}
}

func TestAdaptiveShards(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	id := counterName(t, "c")
	created, err := c.Create(ctx, id, client.CounterConfig{ShardCount: 2, AdaptiveShards: true})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !created.AdaptiveShards || created.ShardCount != 2 {
		t.Errorf("Create = %+v, want 2 adaptive shards", created)
	}
	off, err := c.SetAdaptive(ctx, id, false)
	if err != nil {
		t.Fatalf("SetAdaptive(false): %v", err)
	}
	if off.AdaptiveShards {
		t.Errorf("SetAdaptive(false) = %+v", off)
	}
	shards, on := 4, true
	both, err := c.Update(ctx, id, client.CounterUpdate{ShardCount: &shards, AdaptiveShards: &on})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if !both.AdaptiveShards || both.ShardCount != 4 {
		t.Errorf("Update = %+v, want 4 adaptive shards", both)
	}
	if got, err := c.Get(ctx, id); err != nil || !got.AdaptiveShards {
		t.Errorf("Get = %+v, %v; want adaptive", got, err)
	}
	if _, err := c.Update(ctx, id, client.CounterUpdate{}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("an empty Update: %v, want ErrInvalidArgument", err)
	}
}

func TestBatches(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	a, b := counterName(t, "a"), counterName(t, "b")

	deltas := []client.Delta{{Name: a, Delta: 1}, {Name: b, Delta: 10}, {Name: a, Delta: 2}}
	first, err := c.BatchIncrement(ctx, deltas, client.WithKey("batch-1"))
	if err != nil {
		t.Fatalf("BatchIncrement: %v", err)
	}
	again, err := c.BatchIncrement(ctx, deltas, client.WithKey("batch-1"))
	if err != nil {
		t.Fatalf("BatchIncrement again: %v", err)
	}
	if first.Duplicate || !again.Duplicate || !again.CommitTime.Equal(first.CommitTime) {
		t.Errorf("first %+v, again %+v: want the repeat reported a duplicate of the first", first, again)
	}
	if _, err := c.BatchIncrement(ctx, deltas); err != nil {
		t.Fatalf("BatchIncrement with a fresh key: %v", err)
	}

	got, err := c.BatchGet(ctx, []string{b, a, "counters/" + b})
	if err != nil {
		t.Fatalf("BatchGet: %v", err)
	}
	var values []int64
	for _, ctr := range got {
		values = append(values, ctr.Value)
		if !ctr.ReadTime.Equal(got[0].ReadTime) {
			t.Errorf("read times differ: %v and %v", ctr.ReadTime, got[0].ReadTime)
		}
	}
	if want := []int64{20, 6, 20}; !slices.Equal(values, want) {
		t.Errorf("BatchGet values = %v, want %v", values, want)
	}
	if _, err := c.BatchGet(ctx, []string{a, counterName(t, "missing")}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("BatchGet with a missing counter: %v, want ErrNotFound", err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	prefix := counterName(t, "p") + "-"
	var want []string
	for i := range 7 {
		id := prefix + string(rune('a'+i))
		want = append(want, id)
		if _, err := c.Increment(ctx, id, int64(i)); err != nil {
			t.Fatalf("Increment: %v", err)
		}
	}
	tests := []struct {
		name   string
		opts   client.ListOptions
		values bool
	}{
		{"pages of 3 without values", client.ListOptions{Prefix: prefix, PageSize: 3}, false},
		{"one page with values", client.ListOptions{Prefix: prefix, Values: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for ctr, err := range c.List(ctx, tc.opts) {
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				ids = append(ids, ctr.ID)
				wantValue := int64(0)
				if tc.values {
					wantValue = int64(ctr.ID[len(ctr.ID)-1] - 'a')
				}
				if ctr.Value != wantValue || ctr.ReadTime.IsZero() == tc.values {
					t.Errorf("%s: value %d, read time %v; want %d, read time set %v", ctr.ID, ctr.Value, ctr.ReadTime, wantValue, tc.values)
				}
			}
			if !slices.Equal(ids, want) {
				t.Errorf("List = %v, want %v", ids, want)
			}
		})
	}

	t.Run("stopping early", func(t *testing.T) {
		n := 0
		for _, err := range c.List(ctx, client.ListOptions{Prefix: prefix, PageSize: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
		if n != 3 {
			t.Errorf("saw %d counters, want 3", n)
		}
	})

	t.Run("page tokens", func(t *testing.T) {
		page, err := c.ListPage(ctx, client.ListOptions{Prefix: prefix, PageSize: 5}, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Counters) != 5 || page.NextPageToken == "" {
			t.Fatalf("first page: %d counters, token %q", len(page.Counters), page.NextPageToken)
		}
		rest, err := c.ListPage(ctx, client.ListOptions{Prefix: prefix, PageSize: 5}, page.NextPageToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest.Counters) != 2 || rest.NextPageToken != "" || rest.Counters[0].ID != want[5] {
			t.Errorf("second page: %d counters from %v, token %q", len(rest.Counters), rest.Counters, rest.NextPageToken)
		}
	})

	t.Run("a bad page token is the error of the iteration", func(t *testing.T) {
		_, err := c.ListPage(ctx, client.ListOptions{Prefix: prefix}, "not-a-token")
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("ListPage with a bad token: %v, want ErrInvalidArgument", err)
		}
	})
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	c := newClient(t, tallydAddr())
	ctx := testContext(t)
	huge := counterName(t, "huge")
	if _, err := c.Increment(ctx, huge, 1<<62); err != nil {
		t.Fatal(err)
	}
	exists := counterName(t, "exists")
	if _, err := c.Create(ctx, exists, client.CounterConfig{}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		call  func() error
		want  error
		field string // the field a BadRequest detail names, if any
	}{
		{"malformed name", func() error { _, err := c.Increment(ctx, "a/b", 1); return err }, client.ErrInvalidArgument, "name"},
		{"empty name", func() error { _, err := c.Get(ctx, ""); return err }, client.ErrInvalidArgument, "name"},
		{"shard count out of range", func() error { _, err := c.Resize(ctx, exists, 5000); return err }, client.ErrInvalidArgument, "counter.shard_count"},
		{"negative shard count", func() error {
			_, err := c.Create(ctx, counterName(t, "neg"), client.CounterConfig{ShardCount: -1})
			return err
		}, client.ErrInvalidArgument, "counter.shard_count"},
		{"overflow", func() error { _, err := c.Increment(ctx, huge, 1<<62); return err }, client.ErrOutOfRange, ""},
		{"exists", func() error { _, err := c.Create(ctx, exists, client.CounterConfig{}); return err }, client.ErrAlreadyExists, ""},
		{"missing", func() error { _, err := c.Resize(ctx, counterName(t, "missing"), 2); return err }, client.ErrNotFound, ""},
		{"reset of a missing counter", func() error { _, err := c.Reset(ctx, counterName(t, "missing")); return err }, client.ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			var e *client.Error
			if !errors.As(err, &e) || e.Message() == "" {
				t.Fatalf("error %#v is not an *client.Error with a message", err)
			}
			if tc.field != "" {
				v := e.FieldViolations()
				if len(v) != 1 || v[0].Field != tc.field || v[0].Description == "" {
					t.Errorf("field violations %+v, want one naming %s", v, tc.field)
				}
			}
		})
	}
}

// TestTimeout gives calls the client's default deadline, which a server that never answers
// makes them reach.
func TestTimeout(t *testing.T) {
	t.Parallel()
	addr := silentListener(t)
	c := newClient(t, addr, client.WithTimeout(50*time.Millisecond))
	// t.Context has no deadline of its own, so the client's applies.
	_, err := c.Get(t.Context(), counterName(t, "c"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get = %v, want context.DeadlineExceeded", err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	const token = "tly_client-test-token"
	addr := startTallydT(t, "--tokens-file", tokensFile(t, token, "ok-"))
	ctx := testContext(t)
	tests := []struct {
		name string
		opts []client.Option
		id   string
		want error
	}{
		{"no token", nil, "ok-a", client.ErrUnauthenticated},
		{"wrong token", []client.Option{client.WithToken("tly_wrong")}, "ok-a", client.ErrUnauthenticated},
		{"token", []client.Option{client.WithToken(token)}, "ok-a", nil},
		{"token and ID token", []client.Option{client.WithToken(token), client.WithIDToken("not-checked-by-tallyd")}, "ok-b", nil},
		{"outside the token's prefix", []client.Option{client.WithToken(token)}, "other", client.ErrPermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, addr, tc.opts...)
			_, err := c.Increment(ctx, tc.id, 1)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Increment = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestTokensStayOffPlaintext refuses to send a token in the clear to a target that is not this
// machine: the call fails before anything reaches the server, unless WithInsecureTokens allows it.
// The target's name is another machine's; the dialer takes the connection to a local proxy.
func TestTokensStayOffPlaintext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []client.Option
		want    error
		reaches int
	}{
		{"refused", nil, client.ErrUnauthenticated, 0},
		{"allowed", []client.Option{client.WithInsecureTokens()}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy := dropproxy.Start(t, tallydAddr(), nil)
			dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", proxy.Addr())
			})
			opts := append([]client.Option{client.WithToken("tly_secret"), client.WithDialOptions(dialer)}, tc.opts...)
			c := newClient(t, "passthrough:///tally.example.com:8080", opts...)
			_, err := c.Increment(testContext(t), counterName(t, "c"), 1)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Increment = %v, want %v", err, tc.want)
			}
			if got := proxy.Seen(incrementMethod); got != tc.reaches {
				t.Errorf("%d calls reached the server, want %d", got, tc.reaches)
			}
		})
	}
}

// silentListener returns a loopback address that accepts connections and never speaks, like a
// hung server.
func silentListener(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = lis.Close()
		for c := range accepted {
			_ = c.Close()
		}
	})
	return lis.Addr().String()
}
