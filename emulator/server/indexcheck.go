package server

import (
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// checkIndexes returns FAILED_PRECONDITION, naming the index to declare, when the server checks
// indexes and none of the declared ones serves the query with its aggregations (nil for a plain
// query). Every path that runs a query calls it after compiling the query, so that an invalid
// query is INVALID_ARGUMENT first, as in production.
func (s *Server) checkIndexes(sq *pb.StructuredQuery, aggs []*pb.StructuredAggregationQuery_Aggregation) error {
	if s.indexes == nil {
		return nil
	}
	return s.indexes.Check(sq, aggs)
}
