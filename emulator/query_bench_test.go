package emulator_test

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/firestore"
)

// BenchmarkSumAggregation measures one SUM aggregation query, as tally's GetCounter runs it,
// over 16, 100 and 1,000 shard documents, through the official client over loopback gRPC.
func BenchmarkSumAggregation(b *testing.B) {
	for _, durable := range []bool{false, true} {
		for _, shards := range []int{16, 100, 1000} {
			b.Run(fmt.Sprintf("storage=%s/shards=%d", storageName(durable), shards), func(b *testing.B) {
				c := newClient(b, durable)
				col := c.Collection("counters").Doc("hot").Collection("shards")
				fill(b, c, col, shards)
				q := col.NewAggregationQuery().WithSum("count", "total")
				ctx := context.Background()
				b.ResetTimer()
				for range b.N {
					res, err := q.Get(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if got := res["total"]; got == nil {
						b.Fatal("no total")
					}
				}
			})
		}
	}
}

// BenchmarkQuery1000 measures a query returning 1,000 documents (of 2,000 in the collection).
func BenchmarkQuery1000(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run("storage="+storageName(durable), func(b *testing.B) {
			c := newClient(b, durable)
			col := c.Collection("items")
			fill(b, c, col, 2000)
			q := col.Where("count", ">=", 1000).OrderBy("count", firestore.Asc)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				docs, err := q.Documents(ctx).GetAll()
				if err != nil {
					b.Fatal(err)
				}
				if len(docs) != 1000 {
					b.Fatalf("%d documents, want 1000", len(docs))
				}
			}
		})
	}
}

func storageName(durable bool) string {
	if durable {
		return "disk"
	}
	return "memory"
}

// fill writes n documents {count: i} with ids 0..n-1.
func fill(b *testing.B, c *firestore.Client, col *firestore.CollectionRef, n int) {
	b.Helper()
	bw := c.BulkWriter(context.Background())
	var jobs []*firestore.BulkWriterJob
	for i := range n {
		j, err := bw.Set(col.Doc(fmt.Sprint(i)), map[string]any{"count": i})
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			b.Fatal(err)
		}
	}
}
