package main

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// pages answers ListCounters from a map of page token to page.
func pages(byToken map[string]*tallyv1.ListCountersResponse) replyFunc {
	return func(req proto.Message) (proto.Message, error) {
		token := req.(*tallyv1.ListCountersRequest).GetPageToken()
		page, ok := byToken[token]
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "unknown page_token %q", token)
		}
		return page, nil
	}
}

func listRequest(prefix, token string, size int32, view tallyv1.CounterView) *tallyv1.ListCountersRequest {
	return &tallyv1.ListCountersRequest{Prefix: prefix, PageToken: token, PageSize: size, View: view}
}

func TestList(t *testing.T) {
	const (
		basicView = tallyv1.CounterView_COUNTER_VIEW_BASIC
		fullView  = tallyv1.CounterView_COUNTER_VIEW_FULL
	)
	threePages := pages(map[string]*tallyv1.ListCountersResponse{
		"":   {Counters: []*tallyv1.Counter{basic("a", 1), basic("ab", 2)}, NextPageToken: "t1"},
		"t1": {Counters: []*tallyv1.Counter{basic("abc", 3)}, NextPageToken: "t2"},
		"t2": {Counters: []*tallyv1.Counter{basic("abcd", 10)}},
	})
	const firstPage = "" +
		"COUNTER  SHARDS  CREATED                      UPDATED\n" +
		"a        1       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
		"ab       2       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n"
	const allPages = "" +
		"COUNTER  SHARDS  CREATED                      UPDATED\n" +
		"a        1       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
		"ab       2       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
		"abc      3       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
		"abcd     10      2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n"
	const moreFollow = "tally: more counters follow; add --all, or --page-token t1 for the next page\n"
	runCases(t, []cliCase{
		{
			name:         "first page only, with a note",
			args:         []string{"list"},
			reply:        threePages,
			wantRequests: []proto.Message{listRequest("", "", 0, basicView)},
			want:         outcome{stdout: firstPage, stderr: moreFollow},
		},
		{
			name:  "all follows page tokens",
			args:  []string{"list", "--all", "a"},
			reply: threePages,
			wantRequests: []proto.Message{
				listRequest("a", "", 0, basicView),
				listRequest("a", "t1", 0, basicView),
				listRequest("a", "t2", 0, basicView),
			},
			want: outcome{stdout: allPages},
		},
		{
			name:  "all from a page token, prefix as a full name",
			args:  []string{"list", "counters/a", "--page-token", "t1", "--all"},
			reply: threePages,
			wantRequests: []proto.Message{
				listRequest("a", "t1", 0, basicView),
				listRequest("a", "t2", 0, basicView),
			},
			want: outcome{stdout: "" +
				"COUNTER  SHARDS  CREATED                      UPDATED\n" +
				"abc      3       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
				"abcd     10      2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n"},
		},
		{
			name:  "all as json, one object per counter",
			args:  []string{"--json", "list", "--all"},
			reply: threePages,
			wantRequests: []proto.Message{
				listRequest("", "", 0, basicView),
				listRequest("", "t1", 0, basicView),
				listRequest("", "t2", 0, basicView),
			},
			want: outcome{stdout: "" +
				`{"name":"counters/a","value":"0","shardCount":1,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","adaptiveShards":false}` + "\n" +
				`{"name":"counters/ab","value":"0","shardCount":2,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","adaptiveShards":false}` + "\n" +
				`{"name":"counters/abc","value":"0","shardCount":3,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","adaptiveShards":false}` + "\n" +
				`{"name":"counters/abcd","value":"0","shardCount":10,"createTime":"2025-03-14T15:09:26.535897Z","updateTime":"2025-03-15T08:00:00Z","adaptiveShards":false}` + "\n"},
		},
		{
			name: "values use the full view",
			args: []string{"list", "--values", "--page-size", "2", "page"},
			reply: replyWith(&tallyv1.ListCountersResponse{
				Counters: []*tallyv1.Counter{counter("page-a", 5, 1), counter("page-b", -12, 4)},
			}),
			wantRequests: []proto.Message{listRequest("page", "", 2, fullView)},
			want: outcome{stdout: "" +
				"COUNTER  VALUE  SHARDS  CREATED                      UPDATED\n" +
				"page-a   5      1       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
				"page-b   -12    4       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n"},
		},
		{
			name:         "nothing to list",
			args:         []string{"list", "zzz"},
			reply:        replyWith(&tallyv1.ListCountersResponse{}),
			wantRequests: []proto.Message{listRequest("zzz", "", 0, basicView)},
			want:         outcome{stdout: "no counters\n"},
		},
		{
			name:         "nothing to list as json",
			args:         []string{"--json", "list"},
			reply:        replyWith(&tallyv1.ListCountersResponse{}),
			wantRequests: []proto.Message{listRequest("", "", 0, basicView)},
			want:         outcome{},
		},
		{
			name: "a failing later page keeps the earlier rows",
			args: []string{"list", "--all"},
			reply: pages(map[string]*tallyv1.ListCountersResponse{
				"": {Counters: []*tallyv1.Counter{basic("a", 1), basic("ab", 2)}, NextPageToken: "gone"},
			}),
			wantRequests: []proto.Message{
				listRequest("", "", 0, basicView),
				listRequest("", "gone", 0, basicView),
			},
			want: outcome{code: exitFailed, stdout: firstPage, stderr: `tally: INVALID_ARGUMENT: unknown page_token "gone"` + "\n"},
		},
		{
			name: "a repeated page token stops all",
			args: []string{"list", "--all"},
			reply: pages(map[string]*tallyv1.ListCountersResponse{
				"":   {Counters: []*tallyv1.Counter{basic("a", 1)}, NextPageToken: "t1"},
				"t1": {Counters: []*tallyv1.Counter{basic("ab", 2)}, NextPageToken: "t1"},
			}),
			wantRequests: []proto.Message{
				listRequest("", "", 0, basicView),
				listRequest("", "t1", 0, basicView),
			},
			want: outcome{
				code: exitFailed,
				stdout: "" +
					"COUNTER  SHARDS  CREATED                      UPDATED\n" +
					"a        1       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n" +
					"ab       2       2025-03-14T15:09:26.535897Z  2025-03-15T08:00:00.000000Z\n",
				stderr: "tally: the server returned the same next_page_token twice; stopping\n",
			},
		},
		{
			name: "two prefixes",
			args: []string{"list", "a", "b"},
			want: outcome{code: exitUsage, stderr: `tally: unexpected argument "b"` + "\nusage: tally [global flags] list [PREFIX] [--values] [--page-size N] [--all] [--page-token T]\n"},
		},
		{
			name: "page size not a number",
			args: []string{"list", "--page-size", "lots"},
			want: outcome{code: exitUsage, stderr: `tally: invalid value "lots" for flag --page-size: want an integer from -2147483648 to 2147483647` + "\nusage: tally [global flags] list [PREFIX] [--values] [--page-size N] [--all] [--page-token T]\n"},
		},
	})
}
