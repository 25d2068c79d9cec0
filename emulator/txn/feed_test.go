package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tally-dev/tally/emulator/storage"
)

// recordingSink records what the feed hands it, in order.
type recordingSink struct {
	events chan string
}

func newRecordingSink() *recordingSink { return &recordingSink{events: make(chan string, 1<<16)} }

func (s *recordingSink) Publish(b *storage.Batch) {
	s.events <- fmt.Sprintf("publish %d %d", b.CommitTime, len(b.Writes))
}
func (s *recordingSink) Lost(through int64) { s.events <- fmt.Sprintf("lost %d", through) }
func (s *recordingSink) Close()             { s.events <- "close" }

func (s *recordingSink) next(t *testing.T) string {
	t.Helper()
	return <-s.events
}

func startFeed(t *testing.T, e *Engine) *recordingSink {
	t.Helper()
	sink := newRecordingSink()
	e.AttachFeed(sink)
	if err := e.StartFeed(context.Background()); err != nil {
		t.Fatalf("StartFeed: %v", err)
	}
	return sink
}

func TestFeedPublishesCommitsInCommitOrder(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{})
	sink := startFeed(t, e)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	times := make(chan int64, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res := commit(t, e, set(int64(i), "c", fmt.Sprintf("w%d-%d", w, i%3)), set(int64(i), "d", fmt.Sprint(w)))
				times <- res.CommitTime
			}
		}()
	}
	wg.Wait()
	close(times)
	want := map[int64]bool{}
	for ct := range times {
		want[ct] = true
	}
	var last int64
	for range writers * each {
		var ct int64
		var n int
		if _, err := fmt.Sscanf(sink.next(t), "publish %d %d", &ct, &n); err != nil {
			t.Fatal(err)
		}
		if ct <= last || !want[ct] || n != 2 {
			t.Fatalf("published commit %d with %d writes after %d; want acknowledged commits of 2 writes, in increasing order", ct, n, last)
		}
		delete(want, ct)
		last = ct
	}
}

func TestFeedIsOffUntilStartedAndAfterStopped(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{})
	commit(t, e, set(1, "c", "before"))
	sink := startFeed(t, e)
	on := commit(t, e, set(2, "c", "on"))
	e.StopFeed()
	commit(t, e, set(3, "c", "off"))
	if err := e.StartFeed(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := commit(t, e, set(4, "c", "again"))
	// Had the commits made while off been published, they would come between these two.
	for _, want := range []int64{on.CommitTime, again.CommitTime} {
		if got := sink.next(t); got != fmt.Sprintf("publish %d 1", want) {
			t.Fatalf("got %q, want commit %d", got, want)
		}
	}
}

// TestFeedPublishesOnlyDurableCommits holds a commit before it is durable: the feed's
// position stays before it and nothing is published until storage has it.
func TestFeedPublishesOnlyDurableCommits(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{})
	sink := startFeed(t, e)
	first := commit(t, e, set(1, "c", "a"))
	if got := sink.next(t); got != fmt.Sprintf("publish %d 1", first.CommitTime) {
		t.Fatalf("got %q", got)
	}
	held := holdDurability(t, e)
	done := make(chan *CommitResult)
	go func() { done <- commit(t, e, set(2, "c", "b")) }()
	h := <-held
	pos, err := e.FeedPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pos != first.CommitTime {
		t.Fatalf("FeedPosition while a commit is not durable: %d, want the last published %d", pos, first.CommitTime)
	}
	select {
	case ev := <-sink.events:
		t.Fatalf("published %q before the batch was durable", ev)
	default:
	}
	h.releaseWith(nil)
	second := <-done
	if got := sink.next(t); got != fmt.Sprintf("publish %d 1", second.CommitTime) {
		t.Fatalf("got %q, want the released commit", got)
	}
	pos, err = e.FeedPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pos < second.CommitTime {
		t.Fatalf("FeedPosition after everything was published: %d, want at least %d", pos, second.CommitTime)
	}
	go func() { (<-held).releaseWith(nil) }()
	if next := commit(t, e, set(3, "c", "c")); next.CommitTime <= pos {
		t.Fatalf("a commit after FeedPosition %d got time %d, at or before it", pos, next.CommitTime)
	}
}

// TestFeedLosesRatherThanBuffers fills the feed's backlog while storage holds every batch:
// past the bound, the batches become one Lost notice.
func TestFeedLosesRatherThanBuffers(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{})
	e.feed.backlog = 4
	sink := startFeed(t, e)
	held := holdDurability(t, e)
	const commits = 10
	results := make(chan *CommitResult, commits)
	var tickets []*heldTicket
	for i := range commits {
		go func() { results <- commit(t, e, set(int64(i), "c", fmt.Sprint(i))) }()
		tickets = append(tickets, <-held) // one at a time, so commit order is i order
	}
	for _, h := range tickets {
		h.releaseWith(nil)
	}
	for range commits {
		<-results
	}
	var got []string
	for range 5 {
		got = append(got, sink.next(t)[:4])
	}
	if fmt.Sprint(got) != "[publ publ publ publ lost]" {
		t.Fatalf("the feed handed %v, want four batches then one lost notice", got)
	}
}

func TestEndFeedClosesTheSink(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{})
	sink := startFeed(t, e)
	e.EndFeed()
	if got := sink.next(t); got != "close" {
		t.Fatalf("got %q, want close", got)
	}
	if err := e.StartFeed(context.Background()); !errors.Is(err, ErrFeedEnded) {
		t.Fatalf("StartFeed after EndFeed: %v, want ErrFeedEnded", err)
	}
	late := newRecordingSink()
	e.AttachFeed(late)
	if got := late.next(t); got != "close" {
		t.Fatalf("a sink attached after EndFeed got %q, want close", got)
	}
}
