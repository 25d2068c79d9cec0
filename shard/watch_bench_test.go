package shard_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

// benchWatchers is how many watchers of one counter the watch benchmarks run on one server.
const benchWatchers = 1000

// watchBench is one server's watchers of counter "hot", each read by a goroutine that records
// when it saw the value the benchmark waits for.
type watchBench struct {
	s       *shard.Counters
	watches []*shard.Watch
	updates atomic.Int64 // updates every watcher has received

	target  atomic.Int64 // the value each watcher must reach
	pending atomic.Int64 // watchers that have not reached it yet
	reached chan struct{}

	mu      sync.Mutex // guards sentAt, latency
	sentAt  time.Time  // when the increment to target started; zero: latency not measured
	latency []time.Duration
}

// newWatchBench starts a durable emulator (as tallyd's embedded storage is), a store with the
// given options, and n watchers of "hot" with their readers. heapPerWatch is the heap and stack
// the watchers added, per watcher, readers excepted.
func newWatchBench(b *testing.B, opts shard.Options, n int, interval time.Duration) (wb *watchBench, heapPerWatch float64) {
	b.Helper()
	em := emulatortest.Start(b, emulator.Options{DataDir: b.TempDir()})
	wb = &watchBench{s: storeOn(b, em, opts), reached: make(chan struct{}, 1)}
	ctx := context.Background()
	if _, err := wb.s.Create(ctx, "hot", 0); err != nil {
		b.Fatal(err)
	}
	before := memInUse()
	for range n {
		w, err := wb.s.Watch(ctx, "hot", interval)
		if err != nil {
			b.Fatal(err)
		}
		wb.watches = append(wb.watches, w)
	}
	heapPerWatch = float64(memInUse()-before) / float64(n)
	for _, w := range wb.watches {
		go wb.read(w)
	}
	b.Cleanup(func() {
		for _, w := range wb.watches {
			w.Close()
		}
	})
	if got := wb.s.WatchStats(); got.Listeners != 2 || got.Watchers != n {
		b.Fatalf("WatchStats %+v: the watchers do not share one hub", got)
	}
	return wb, heapPerWatch
}

func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

func (wb *watchBench) read(w *shard.Watch) {
	var reachedFor int64 = -1
	for {
		u, err := w.Next(context.Background())
		if err != nil {
			return
		}
		wb.updates.Add(1)
		target := wb.target.Load()
		if u.Counter.Value < target || reachedFor == target {
			continue
		}
		reachedFor = target
		wb.mu.Lock()
		if !wb.sentAt.IsZero() {
			wb.latency = append(wb.latency, time.Since(wb.sentAt))
		}
		wb.mu.Unlock()
		if wb.pending.Add(-1) == 0 {
			wb.reached <- struct{}{}
		}
	}
}

// expect makes v the value every watcher must reach; measure records each one's latency from
// now on.
func (wb *watchBench) expect(v int64, measure bool) {
	wb.mu.Lock()
	wb.sentAt = time.Time{}
	if measure {
		wb.sentAt = time.Now()
	}
	wb.mu.Unlock()
	wb.pending.Store(int64(len(wb.watches)))
	wb.target.Store(v)
}

// BenchmarkWatchLatency: 1,000 watchers of one counter on one server; each iteration increments
// it once and waits until every watcher has the new value. Reports the increment-to-update
// latency over all watchers (p50, p99), from the start of the Increment call to the watcher's
// Next returning, and the memory each watcher holds. The interval is the minimum (1ms here), so
// that no update waits for coalescing.
func BenchmarkWatchLatency(b *testing.B) {
	opts := shard.Options{MinWatchInterval: time.Millisecond, WatchInterval: time.Millisecond}
	wb, perWatch := newWatchBench(b, opts, benchWatchers, 0)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		wb.expect(int64(i+1), true)
		if _, err := wb.s.Increment(ctx, "hot", 1, ""); err != nil {
			b.Fatal(err)
		}
		<-wb.reached
	}
	b.StopTimer()
	lat := slices.Sorted(slices.Values(wb.latency))
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(perWatch, "B/watcher")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkWatchUpdates: 1,000 watchers of one counter that 16 goroutines increment b.N times in
// all. Reports the updates delivered per second over all watchers and the increments per
// second, at the minimum interval (every change a watcher can take) and at the default (250ms).
func BenchmarkWatchUpdates(b *testing.B) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{{"interval=1ms", time.Millisecond}, {"interval=default", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := shard.Options{MinWatchInterval: time.Millisecond}
			wb, _ := newWatchBench(b, opts, benchWatchers, tc.interval)
			wb.expect(int64(b.N), false)
			b.ResetTimer()
			start := wb.updates.Load()
			incrementHotConcurrently(b, wb.s, 16)
			<-wb.reached // every watcher has the final value
			b.StopTimer()
			b.ReportMetric(float64(wb.updates.Load()-start)/b.Elapsed().Seconds(), "updates/s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "increments/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// incrementHotConcurrently increments "hot" b.N times in all from g goroutines.
func incrementHotConcurrently(b *testing.B, s *shard.Counters, g int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				if _, err := s.Increment(context.Background(), "hot", 1, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkIncrementWatched: 16 goroutines increment one counter with no watcher, with one
// watcher reading at the minimum interval, with one that never reads (a client that stopped
// reading), and with 1,000 reading at the minimum interval; and with none and one on a counter of
// one shard, where every snapshot needs a point-in-time read of the metadata (watch_hub.go).
// Compare increments/s: the stuck watcher must cost no more than the reading one.
func BenchmarkIncrementWatched(b *testing.B) {
	for _, tc := range []struct {
		name      string
		shards    int // 0: the default, 16
		stuck     bool
		watchers  int
		readEvery time.Duration
	}{
		{name: "watchers=0"},
		{name: "watchers=1", watchers: 1, readEvery: time.Millisecond},
		{name: "watchers=0/shards=1", shards: 1},
		{name: "watchers=1/shards=1", shards: 1, watchers: 1, readEvery: time.Millisecond},
		{name: "watchers=1-stuck", stuck: true},
		{name: "watchers=1000", watchers: benchWatchers, readEvery: time.Millisecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := shard.Options{MinWatchInterval: time.Millisecond, WatchInterval: time.Millisecond}
			em := emulatortest.Start(b, emulator.Options{DataDir: b.TempDir()})
			s := storeOn(b, em, opts)
			ctx := context.Background()
			if _, err := s.Create(ctx, "hot", tc.shards); err != nil {
				b.Fatal(err)
			}
			var stuck *shard.Watch
			if tc.stuck {
				w, err := s.Watch(ctx, "hot", 0)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				stuck = w
			}
			for range tc.watchers {
				w, err := s.Watch(ctx, "hot", tc.readEvery)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				go func() {
					for {
						if _, err := w.Next(ctx); err != nil {
							return
						}
					}
				}()
			}
			b.ResetTimer()
			incrementHotConcurrently(b, s, 16)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "increments/s")
			if st := s.WatchStats(); st.Snapshots > 0 {
				b.ReportMetric(float64(st.PointReads)/float64(st.Snapshots), "point-reads/snapshot")
			}
			b.ReportMetric(0, "ns/op")
			if stuck != nil && stuck.Pending() > 1 {
				b.Fatalf("the stuck watcher holds %d updates", stuck.Pending())
			}
		})
	}
}
