package crash

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestArithmetic(t *testing.T) {
	for _, c := range []struct {
		r                    Result
		lost, extra, doubled int64
	}{
		{Result{Acked: 100, Value: 100}, 0, 0, 0},
		{Result{Acked: 100, Value: 60}, 40, 0, 0},             // lost 40
		{Result{Acked: 100, Value: 103}, 0, 3, 3},             // 3 retried twice
		{Result{Acked: 100, Unacked: 2, Value: 103}, 0, 3, 1}, // 2 may be unacked ones applied
		{Result{Acked: 100, Unacked: 5, Value: 103}, 0, 3, 0},
	} {
		if got := c.r.Lost(); got != c.lost {
			t.Errorf("%+v: Lost = %d, want %d", c.r, got, c.lost)
		}
		if got := c.r.Extra(); got != c.extra {
			t.Errorf("%+v: Extra = %d, want %d", c.r, got, c.extra)
		}
		if got := c.r.Doubled(); got != c.doubled {
			t.Errorf("%+v: Doubled = %d, want %d", c.r, got, c.doubled)
		}
	}
}

// fake is an in-memory store. While it is down every call fails. With forget it starts from 0
// after a kill (as Memcached does); with keys it applies each id once; with lateAnswer the first
// call after each kill is applied but answered with an error (an answer lost in the crash).
type fake struct {
	forget, keys, lateAnswer bool

	mu      sync.Mutex
	down    bool
	value   int64
	seen    map[string]bool
	dropOne bool
}

func (f *fake) Increment(ctx context.Context, _ int, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("down")
	}
	if f.keys && f.seen[id] {
		return nil
	}
	f.value++
	if f.keys {
		f.seen[id] = true
	}
	if f.dropOne {
		f.dropOne = false
		return errors.New("answer lost")
	}
	return nil
}

func (f *fake) Value(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.value, nil
}

func (f *fake) Kill() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = true
	if f.forget {
		f.value = 0
	}
	return nil
}

func (f *fake) Restart(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = false
	f.dropOne = f.lateAnswer
	return nil
}

func run(t *testing.T, f *fake) Result {
	t.Helper()
	f.seen = map[string]bool{}
	r, err := Run(context.Background(), f, Options{
		Clients: 4, Kills: 2, Every: 40 * time.Millisecond, Down: 10 * time.Millisecond,
		Attempt: time.Second, Drain: time.Second, Prefix: "t",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kills != 2 || r.Acked == 0 || r.Retries == 0 || r.Unacked != 0 || r.Started != r.Acked {
		t.Fatalf("result %+v: want 2 kills, acknowledged increments, retries, none left unacknowledged", r)
	}
	return r
}

func TestRunDurable(t *testing.T) {
	if r := run(t, &fake{}); r.Lost() != 0 || r.Extra() != 0 {
		t.Fatalf("durable store: %+v, lost %d, extra %d", r, r.Lost(), r.Extra())
	}
}

func TestRunForgetful(t *testing.T) {
	if r := run(t, &fake{forget: true}); r.Lost() == 0 || r.Extra() != 0 {
		t.Fatalf("store that forgets: %+v, lost %d, extra %d", r, r.Lost(), r.Extra())
	}
}

func TestRunRetriesCountTwice(t *testing.T) {
	if r := run(t, &fake{lateAnswer: true}); r.Doubled() != 2 {
		t.Fatalf("lost answers with plain retries: %+v, doubled %d, want 2", r, r.Doubled())
	}
	if r := run(t, &fake{lateAnswer: true, keys: true}); r.Extra() != 0 || r.Lost() != 0 {
		t.Fatalf("lost answers with keys: %+v, extra %d, lost %d", r, r.Extra(), r.Lost())
	}
}
