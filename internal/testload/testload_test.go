package testload

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestStopEndsEveryWorker(t *testing.T) {
	t.Parallel()
	const workers = 4
	var calls [workers]atomic.Int64
	started := make(chan int, workers)
	l := Start(workers, func(w int) bool {
		if calls[w].Add(1) == 1 {
			started <- w
		}
		return true
	})
	for range workers {
		<-started
	}
	l.Stop()
	l.Stop() // a second Stop returns at once
	select {
	case <-l.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	before := make([]int64, workers)
	for w := range before {
		before[w] = calls[w].Load()
	}
	// A worker still running would go on counting; give it a moment to show itself.
	for range 1000 {
		runtime.Gosched()
	}
	for w := range before {
		if calls[w].Load() != before[w] {
			t.Errorf("worker %d still runs after Stop", w)
		}
	}
}

func TestWorkersEndWhenTheirCallSaysSo(t *testing.T) {
	t.Parallel()
	var calls [3]atomic.Int64
	l := Start(3, func(w int) bool { return calls[w].Add(1) < int64(10*(w+1)) })
	<-l.Done()
	for w := range calls {
		if got := calls[w].Load(); got != int64(10*(w+1)) {
			t.Errorf("worker %d made %d calls, want %d", w, got, 10*(w+1))
		}
	}
}
