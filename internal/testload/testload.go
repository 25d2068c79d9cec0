// Package testload runs the concurrent clients of load tests: goroutines that repeat a call
// until it fails or the test has what it needs. Only _test.go files import it.
package testload

import "sync"

// Load is a set of running workers.
type Load struct {
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Start runs n workers, each calling f with its index (0 to n-1) over and over until f returns
// false or Stop is called. f runs on the worker's goroutine, so it may call t.Error but not
// t.Fatal.
func Start(n int, f func(worker int) bool) *Load {
	l := &Load{stop: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if !f(w) {
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(l.done)
	}()
	return l
}

// Stop lets every worker finish the call it is in, and returns once all have returned. It may
// be called more than once.
func (l *Load) Stop() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// Done is closed once every worker has returned, by itself or after Stop.
func (l *Load) Done() <-chan struct{} { return l.done }
