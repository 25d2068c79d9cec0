package txn

import (
	"context"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

func setN(path []string, n int64) Write {
	return Write{Path: path, Fields: map[string]*pb.Value{"n": {ValueType: &pb.Value_IntegerValue{IntegerValue: n}}}}
}

// TestStalePrefetchIsReadAgain: a commit that reads a document before sequencing must not use
// that read when another commit to the document became durable in between.
func TestStalePrefetchIsReadAgain(t *testing.T) {
	e := newEngine(t, Options{})
	ctx := context.Background()
	path := []string{"c", "d"}
	key := docKey(testDB, path)
	if _, err := e.Commit(ctx, testDB, nil, []Write{setN(path, 1)}); err != nil {
		t.Fatal(err)
	}
	w := []Write{setN(path, 0)}
	stale := e.prefetchDocs(testDB, []string{key}, w)
	if got := stale.versions[key].Fields["n"].GetIntegerValue(); got != 1 {
		t.Fatalf("prefetch read n=%d, want 1", got)
	}
	// Another commit changes the document and becomes durable (and so leaves e.pending).
	if _, err := e.Commit(ctx, testDB, nil, []Write{setN(path, 2)}); err != nil {
		t.Fatal(err)
	}
	e.seqMu.Lock()
	v, err := e.latestWith(testDB, key, path, stale)
	e.seqMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Fields["n"].GetIntegerValue(); got != 2 {
		t.Fatalf("sequencing used n=%d, want 2: a stale prefetch was trusted", got)
	}

	fresh := e.prefetchDocs(testDB, []string{key}, w)
	e.seqMu.Lock()
	v, _ = e.latestWith(testDB, key, path, fresh)
	e.seqMu.Unlock()
	if v != fresh.versions[key] {
		t.Fatalf("a current prefetch was not used")
	}
}

func TestDurableLogForgetsOnlyWhatNoPrefetchCanNeed(t *testing.T) {
	var l durableLog
	l.record("a", 10)
	if !l.changedSince("a", 5, 0) || l.changedSince("a", 10, 0) || l.changedSince("b", 5, 0) {
		t.Fatal("changedSince within one generation")
	}
	for i := range maxDurableLog {
		l.record(string(rune('A'+i%26))+string(rune(i)), 20)
	}
	if l.epoch != 1 || !l.changedSince("a", 5, 0) {
		t.Fatalf("after one rotation (epoch %d) the previous generation must still answer", l.epoch)
	}
	for i := range maxDurableLog {
		l.record("x"+string(rune(i)), 30)
	}
	if !l.changedSince("never-written", 100, 0) {
		t.Fatal("a prefetch two generations old must not be trusted")
	}
	if l.changedSince("never-written", 100, l.epoch) {
		t.Fatal("a current prefetch of an unwritten document must be trusted")
	}
}
