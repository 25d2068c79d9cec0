package query

import (
	"context"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
)

// MinPartitionSize is the fewest documents a partition holds, except the last: a query with
// fewer than twice as many results is not split. Production documents no number; its
// clients' tests expect 2*128+127 documents to split into at least two partitions.
const MinPartitionSize = 128

// Partitioner splits a collection group query into ranges of document names.
type Partitioner struct {
	query *Query
}

// CompilePartition validates a query to partition as production does: a collection group (or
// kindless) query ordered by __name__ ascending only, without filters, cursors, offset or
// limit, below the database root.
func CompilePartition(db resource.Database, sq *pb.StructuredQuery) (*Partitioner, error) {
	if sq == nil {
		return nil, invalidf("structured_query: the query to partition is required")
	}
	switch {
	case len(sq.GetFrom()) == 1 && !sq.GetFrom()[0].GetAllDescendants():
		return nil, invalidf("from[0].all_descendants: only collection group queries can be partitioned")
	case sq.GetWhere() != nil:
		return nil, invalidf("where: a partitioned query cannot have filters")
	case sq.GetStartAt() != nil || sq.GetEndAt() != nil:
		return nil, invalidf("start_at, end_at: a partitioned query cannot have cursors")
	case sq.GetOffset() != 0:
		return nil, invalidf("offset: a partitioned query cannot have an offset")
	case sq.GetLimit() != nil:
		return nil, invalidf("limit: a partitioned query cannot have a limit")
	case sq.GetFindNearest() != nil:
		return nil, invalidf("find_nearest: a vector search cannot be partitioned")
	}
	for i, o := range sq.GetOrderBy() {
		if o.GetField().GetFieldPath() != nameField || o.GetDirection() == pb.StructuredQuery_DESCENDING || i > 0 {
			return nil, invalidf("order_by: a partitioned query must be ordered by __name__ ascending only")
		}
	}
	q, err := Compile(db, nil, sq)
	if err != nil {
		return nil, err
	}
	return &Partitioner{query: q}, nil
}

// Points returns up to maxPoints document paths that split the query's results into
// partitions of nearly equal size, at least MinPartitionSize each, in name order. Running the
// query ending before the first point, then from each point to before the next, then from the
// last one returns every result exactly once. It reads the results twice and keeps only the
// points.
func (p *Partitioner) Points(ctx context.Context, src Source, maxPoints int64) ([][]string, error) {
	if maxPoints <= 0 {
		return nil, nil
	}
	var n int64
	err := p.query.scan(ctx, src, func(*storage.Version) bool { n++; return false })
	if err != nil {
		return nil, err
	}
	step := max(MinPartitionSize, ceilDiv(n, min(maxPoints, n)+1))
	if n < 2*MinPartitionSize || step >= n {
		return nil, nil
	}
	var points [][]string
	var i int64
	err = p.query.scan(ctx, src, func(doc *storage.Version) bool {
		if i > 0 && i%step == 0 {
			points = append(points, doc.Path)
		}
		i++
		return int64(len(points)) == maxPoints
	})
	return points, err
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
