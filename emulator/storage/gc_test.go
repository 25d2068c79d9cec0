package storage

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tally-dev/tally/internal/testload"
)

// readEverything records every read the tests compare across a GC: point reads of each
// document and scans, at each time from `from` to `to` in steps of 5.
func readEverything(t *testing.T, s *Store, docs [][]string, from, to int64) []string {
	t.Helper()
	var out []string
	for at := from; at <= to; at += 5 {
		sn := s.Snapshot(testDB, at)
		for _, d := range docs {
			v, err := sn.Get(d)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d get %s", at, describe(v)))
		}
		for _, v := range collect(t, sn.DocumentsShowMissing(nil, "c", nil)) {
			out = append(out, fmt.Sprintf("%d list %s", at, v))
		}
		for _, v := range collect(t, sn.Documents(nil, "s", true, nil)) {
			out = append(out, fmt.Sprintf("%d group %s", at, v))
		}
		for _, id := range collectIDs(t, sn.CollectionIDs(nil, "")) {
			out = append(out, fmt.Sprintf("%d collection %s", at, id))
		}
	}
	return out
}

func TestGCKeepsWhatReadsAtHorizonNeed(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		docs := [][]string{{"c", "a"}, {"c", "b"}, {"c", "d"}, {"c", "p", "s", "1"}, {"x", "y"}}
		w.commit(set(1, "c", "a"), set(1, "c", "b"), set(1, "c", "p", "s", "1"), set(1, "x", "y"))
		w.commit(set(2, "c", "a"))
		w.commit(del("c", "b"))                             // tombstone that GC will drop
		w.commit(set(3, "c", "a"), set(3, "c", "d"))        // c/a history: 1, 2
		horizon := w.commit(del("c", "p", "s", "1"))        // tombstone exactly at the horizon
		w.commit(set(4, "c", "a"), set(2, "c", "d"))        // versions after the horizon stay
		w.commit(del("x", "y"))                             // tombstone after the horizon stays
		end := w.commit(set(5, "c", "a"), set(1, "c", "b")) // re-creation after the horizon

		before := readEverything(t, s, docs, horizon, end+5)
		hBefore := countKeys(t, s, []byte{historyPrefix})
		lBefore := countKeys(t, s, []byte{latestPrefix})

		stats, err := s.CollectGarbage(horizon)
		if err != nil {
			t.Fatal(err)
		}
		after := readEverything(t, s, docs, horizon, end+5)
		if !slices.Equal(before, after) {
			t.Fatalf("reads at or after the horizon changed:\nbefore %q\nafter  %q", before, after)
		}
		removed := hBefore + lBefore - countKeys(t, s, []byte{historyPrefix}) - countKeys(t, s, []byte{latestPrefix})
		if stats.VersionsDeleted != removed || removed == 0 {
			t.Fatalf("CollectGarbage = %+v, but %d keys disappeared", stats, removed)
		}
		// c/a lost versions 1 and 2; c/p/s/1 lost its version and tombstone; c/b keeps its
		// tombstone (now history of the re-creation) but loses version 1.
		gone := []struct {
			doc []string
			at  int64
		}{{docs[0], 15}, {docs[0], 25}, {docs[3], horizon - 1}, {docs[1], 15}}
		for _, g := range gone {
			if v, err := s.Get(testDB, g.doc, g.at); err != nil || v != nil {
				t.Errorf("Get(%v, %d) after GC = %s, %v; want the version collected", g.doc, g.at, describe(v), err)
			}
		}
		if v, err := s.Latest(testDB, docs[3]); err != nil || v != nil {
			t.Errorf("Latest of a collected tombstone = %s, %v; want <nil>", describe(v), err)
		}

		again, err := s.CollectGarbage(horizon)
		if err != nil || again.VersionsDeleted != 0 {
			t.Fatalf("second run = %+v, %v; want nothing deleted", again, err)
		}
	})
}

func TestGCVisitsOnlyDocumentsWithHistory(t *testing.T) {
	t.Parallel()
	s := openStore(t, true)
	// The startup scan of history, still running, would mark the documents again after a
	// collection and spoil the counts.
	<-s.gc.rebuilt
	w := newWriter(t, s)
	var changes []change
	for i := range 50 {
		changes = append(changes, set(1, "c", fmt.Sprint(i)))
	}
	w.commit(changes...)
	w.commit(set(2, "c", "7"))
	at := w.commit(set(3, "c", "7"), set(2, "c", "8"))
	tests := []struct {
		name    string
		horizon int64
		want    GCStats
	}{
		{"horizon before all history", 1, GCStats{Documents: 2}},
		{"two documents changed", at - 10, GCStats{Documents: 2, VersionsDeleted: 1}},
		{"only c/7 kept history", at, GCStats{Documents: 2, VersionsDeleted: 2}},
		{"nothing left", at, GCStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CollectGarbage(tt.horizon)
			if err != nil || got != tt.want {
				t.Fatalf("CollectGarbage(%d) = %+v, %v; want %+v", tt.horizon, got, err, tt.want)
			}
		})
	}
}

// A document written over and over with GC running keeps a bounded number of keys.
func TestGCBoundsAHotDocument(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		const window = 5 // commits kept readable behind the newest
		hp := historyPrefixOf(latestKey(namespace(testDB), []string{"c", "hot"}))
		maxKeys := 0
		for i := range 300 {
			at := w.commit(set(int64(i), "c", "hot"))
			if i%10 == 9 {
				if _, err := s.CollectGarbage(at - window*10); err != nil {
					t.Fatal(err)
				}
				maxKeys = max(maxKeys, countKeys(t, s, hp))
			}
		}
		if maxKeys > window+1 {
			t.Fatalf("hot document held up to %d history entries, want at most %d", maxKeys, window+1)
		}
	})
}

func TestGCStateSurvivesReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openWith(t, Options{Dir: dir})
	w := newWriter(t, s)
	w.commit(set(1, "c", "a"), set(1, "c", "b"), set(1, "c", "a", "s", "x"))
	w.commit(set(2, "c", "a"), set(2, "c", "a", "s", "x"))
	at := w.commit(set(3, "c", "a"), del("c", "b"))
	closeChecked(t, s)
	s = openWith(t, Options{Dir: dir})
	<-s.gc.rebuilt
	stats, err := s.CollectGarbage(at)
	if err != nil {
		t.Fatal(err)
	}
	// c/a: 2 history entries; c/b: its history entry and tombstone; c/a/s/x: 1 history entry.
	if want := (GCStats{Documents: 3, VersionsDeleted: 5}); stats != want {
		t.Fatalf("CollectGarbage after reopen = %+v, want %+v", stats, want)
	}
}

// Commits and GC runs interleave freely; reads at or after every horizon used stay exact.
func TestGCConcurrentWithCommits(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *Store) {
		w := newWriter(t, s)
		docs := []string{"a", "b", "c"}
		// oracle[doc] lists (commit time, description) of every version written.
		type version struct {
			at   int64
			want string
		}
		oracle := map[string][]version{}

		ran := make(chan struct{}, 1) // a token per finished GC run, dropped when unclaimed
		var gcErr error
		var maxHorizon int64
		deleted := 0
		gc := testload.Start(1, func(int) bool {
			horizon := s.DurableTime() - 30
			stats, err := s.CollectGarbage(horizon)
			if err != nil {
				gcErr = err
				close(ran) // release the writer; the error is reported after the commits
				return false
			}
			deleted += stats.VersionsDeleted
			maxHorizon = max(maxHorizon, horizon)
			select {
			case ran <- struct{}{}:
			default:
			}
			return true
		})
		for i := range 150 {
			doc := docs[i%len(docs)]
			c := set(int64(i), "c", doc)
			want := fmt.Sprintf("c/%s=%d", doc, i)
			if i%7 == 0 {
				c, want = del("c", doc), "<nil>"
			}
			at := w.commit(c)
			oracle[doc] = append(oracle[doc], version{at, want})
			if i%50 == 49 {
				// Make sure GC runs start during the commits: after draining a stale token, the
				// second new one comes from a run that began after this point.
				select {
				case <-ran:
				default:
				}
				<-ran
				<-ran
			}
		}
		gc.Stop()
		if gcErr != nil {
			t.Fatal(gcErr)
		}
		if deleted == 0 {
			t.Fatal("GC ran alongside the commits but deleted nothing")
		}
		for _, doc := range docs {
			versions := oracle[doc]
			for at := maxHorizon; at <= w.now; at++ {
				want := "<nil>"
				for _, v := range versions {
					if v.at <= at {
						want = v.want
					}
				}
				if v, err := s.Get(testDB, []string{"c", doc}, at); err != nil || describe(v) != want {
					t.Fatalf("Get(c/%s, %d) = %s, %v; want %s (horizon %d)", doc, at, describe(v), err, want, maxHorizon)
				}
			}
		}
	})
}
