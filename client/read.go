package client

import (
	"context"
	"errors"
	"iter"

	"google.golang.org/grpc"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// Get reads one counter: its current value, or with At its value at a past moment. It fails
// with ErrNotFound if the counter does not exist (did not exist then).
func (c *Client) Get(ctx context.Context, name string, opts ...ReadOption) (*Counter, error) {
	r := readSettingsOf(opts)
	req := &tallyv1.GetCounterRequest{Name: fullName(name), ReadTime: timeToProto(r.at)}
	var resp *tallyv1.Counter
	_, err := c.do(ctx, idempotent, func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.GetCounter(ctx, req, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return counterFromProto(resp), nil
}

// BatchGet reads up to 100 counters at one consistent time (now, or At's), in the order of
// names. If any does not exist it returns ErrNotFound and no counters.
func (c *Client) BatchGet(ctx context.Context, names []string, opts ...ReadOption) ([]*Counter, error) {
	r := readSettingsOf(opts)
	req := &tallyv1.BatchGetCountersRequest{Names: make([]string, len(names)), ReadTime: timeToProto(r.at)}
	for i, n := range names {
		req.Names[i] = fullName(n)
	}
	var resp *tallyv1.BatchGetCountersResponse
	_, err := c.do(ctx, idempotent, func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.BatchGetCounters(ctx, req, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Counter, len(resp.GetCounters()))
	for i, pc := range resp.GetCounters() {
		out[i] = counterFromProto(pc)
	}
	return out, nil
}

func readSettingsOf(opts []ReadOption) readSettings {
	var r readSettings
	for _, o := range opts {
		o(&r)
	}
	return r
}

// Page is one page of a listing.
type Page struct {
	Counters []*Counter
	// NextPageToken continues the listing with ListPage; empty on the last page.
	NextPageToken string
}

// errRepeatedPageToken stops a listing whose server hands back the token it was given, which
// would otherwise never end.
var errRepeatedPageToken = errors.New("tally: the server returned the same page token again")

// ListPage returns one page of the counters opts select, in ascending byte order of their IDs,
// starting at pageToken (empty for the first page).
func (c *Client) ListPage(ctx context.Context, opts ListOptions, pageToken string) (*Page, error) {
	req := &tallyv1.ListCountersRequest{
		PageSize:  int32Of(opts.PageSize),
		PageToken: pageToken,
		Prefix:    opts.Prefix,
		View:      tallyv1.CounterView_COUNTER_VIEW_BASIC,
	}
	if opts.Values {
		req.View = tallyv1.CounterView_COUNTER_VIEW_FULL
	}
	var resp *tallyv1.ListCountersResponse
	_, err := c.do(ctx, idempotent, func(ctx context.Context, o ...grpc.CallOption) (err error) {
		resp, err = c.rpc.ListCounters(ctx, req, o...)
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &Page{NextPageToken: resp.GetNextPageToken(), Counters: make([]*Counter, len(resp.GetCounters()))}
	for i, pc := range resp.GetCounters() {
		page.Counters[i] = counterFromProto(pc)
	}
	return page, nil
}

// List iterates over every counter opts select, fetching pages as the loop needs them. A
// failure is yielded once, as the last element:
//
//	for c, err := range cl.List(ctx, client.ListOptions{Prefix: "web-"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(c.ID)
//	}
func (c *Client) List(ctx context.Context, opts ListOptions) iter.Seq2[*Counter, error] {
	return func(yield func(*Counter, error) bool) {
		token := ""
		for {
			page, err := c.ListPage(ctx, opts, token)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, ctr := range page.Counters {
				if !yield(ctr, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			if page.NextPageToken == token {
				yield(nil, errRepeatedPageToken)
				return
			}
			token = page.NextPageToken
		}
	}
}
