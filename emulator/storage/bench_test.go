package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

func benchFields(i int) map[string]*pb.Value {
	return map[string]*pb.Value{
		"count": {ValueType: &pb.Value_IntegerValue{IntegerValue: int64(i)}},
		"name":  {ValueType: &pb.Value_StringValue{StringValue: fmt.Sprintf("document number %d", i)}},
		"ok":    {ValueType: &pb.Value_BooleanValue{BooleanValue: i%2 == 0}},
	}
}

// BenchmarkSubmit measures commit throughput: each submitter repeatedly updates its own
// document and waits for the ticket, so concurrency shows up as shared fsyncs.
func BenchmarkSubmit(b *testing.B) {
	for _, m := range modes {
		for _, submitters := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/submitters=%d", m.name, submitters), func(b *testing.B) {
				s := openStore(b, m.inMemory)
				var submitMu sync.Mutex // the transaction layer serialises Submit
				var now int64
				var claimed atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for g := range submitters {
					wg.Add(1)
					go func() {
						defer wg.Done()
						path := []string{"bench", fmt.Sprint(g)}
						var prev *Version
						for i := 0; claimed.Add(1) <= int64(b.N); i++ {
							submitMu.Lock()
							now++
							next := Version{CreateTime: now, UpdateTime: now, Fields: benchFields(i)}
							if prev != nil {
								next.CreateTime = prev.CreateTime
							}
							tk := s.Submit(&Batch{CommitTime: now, Writes: []Write{{DB: testDB, Path: path, Prev: prev, Next: next}}})
							submitMu.Unlock()
							<-tk.Done()
							if err := tk.Err(); err != nil {
								b.Error(err)
								return
							}
							prev = &next
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				st := s.Stats()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
				b.ReportMetric(float64(st.Batches)/float64(max(st.Flushes, 1)), "batches/fsync")
			})
		}
	}
}

// BenchmarkSnapshotDocuments scans a collection of 1,000 documents, at the latest time and at a
// time before every document was updated (each read then resolves from history).
func BenchmarkSnapshotDocuments(b *testing.B) {
	for _, m := range modes {
		s := openStore(b, m.inMemory)
		w := newWriter(b, s)
		const docs = 1000
		var first, second []change
		for i := range docs {
			first = append(first, set(int64(i), "c", fmt.Sprintf("doc%04d", i)))
			second = append(second, set(int64(i+docs), "c", fmt.Sprintf("doc%04d", i)))
		}
		before := w.commit(first...)
		latest := w.commit(second...)
		for _, at := range []struct {
			name string
			time int64
		}{{"latest", latest}, {"history", before}} {
			b.Run(m.name+"/"+at.name, func(b *testing.B) {
				for b.Loop() {
					n := 0
					for _, err := range s.Snapshot(testDB, at.time).Documents(nil, "c", false, nil) {
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if n != docs {
						b.Fatalf("scanned %d documents, want %d", n, docs)
					}
				}
				b.ReportMetric(float64(b.N*docs)/b.Elapsed().Seconds(), "docs/s")
			})
		}
	}
}
