package watch

import (
	"fmt"
	"testing"

	"github.com/tally-dev/tally/emulator/storage"
)

func TestNewestWritesKeepsEachDocumentsLastWrite(t *testing.T) {
	t.Parallel()
	w := func(id string) *storage.Write { return &storage.Write{Path: []string{"c", id}} }
	a1, b1, a2, c2, b3 := w("a"), w("b"), w("a"), w("c"), w("b")
	t1, t2 := &target{id: 1}, &target{id: 2}
	events := []event{
		{time: 1, hits: []hit{{target: t1, write: a1}, {target: t2, write: a1}, {target: t1, write: b1}}},
		{time: 2, hits: []hit{{target: t1, write: a2}, {target: t1, write: c2}}},
		{time: 3, hits: []hit{{target: t2, write: b3}}},
	}
	cases := []struct {
		name   string
		events []event
		want   string
	}{
		{"one commit: everything", events[:1], "[1:c/a×2 1:c/b×1]"},
		{"a batch: each document's newest write, in commit order", events, "[2:c/a×1 2:c/c×1 3:c/b×1]"},
		{"nothing", nil, "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tw := range newestWrites(tc.events) {
				got = append(got, fmt.Sprintf("%d:%s/%s×%d", tw.time, tw.hits[0].write.Path[0], tw.hits[0].write.Path[1], len(tw.hits)))
			}
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
