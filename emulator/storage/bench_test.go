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

// BenchmarkLookupMissing reads 10 documents that do not exist, as a commit creating 10
// idempotency records does, from a store holding 100,000 documents in flushed tables and more
// in its memtable: one at a time with Latest, or all at once with LatestAll.
func BenchmarkLookupMissing(b *testing.B) {
	s := openStore(b, false)
	w := newWriter(b, s)
	const docs, perBatch = 100_000, 500
	for i := 0; i < docs; i += perBatch {
		var changes []change
		for j := range perBatch {
			changes = append(changes, set(int64(i+j), "records", fmt.Sprintf("%064x", (i+j)*7919)))
		}
		w.commit(changes...)
		if i == docs/2 {
			if err := s.db.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	var n int
	missing := func() [][]string {
		paths := make([][]string, 10)
		for i := range paths {
			n++
			paths[i] = []string{"records", fmt.Sprintf("%064x", n*7919+1)}
		}
		return paths
	}
	b.Run("Latest", func(b *testing.B) {
		for b.Loop() {
			for _, p := range missing() {
				if v, err := s.Latest(testDB, p); err != nil || v != nil {
					b.Fatal(v, err)
				}
			}
		}
	})
	b.Run("LatestAll", func(b *testing.B) {
		for b.Loop() {
			vs, err := s.LatestAll(testDB, missing())
			if err != nil || vs[0] != nil {
				b.Fatal(vs, err)
			}
		}
	})
}
