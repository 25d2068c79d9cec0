// Package query evaluates Firestore structured queries and aggregations over a storage snapshot.
//
// Compile validates a google.firestore.v1.StructuredQuery the way production Firestore does and
// turns it into an immutable Query; CompileAggregation does the same for a
// StructuredAggregationQuery. Both run against a Source, a consistent snapshot of one database.
//
// Results come out in the query's full ordering: the explicit order_by clauses, then every field
// with an inequality filter that is not already ordered (in field path order), then __name__,
// the appended orders taking the direction of the last explicit one. Run picks one of three
// plans so that memory never grows with the number of documents read:
//
//   - ordered by __name__ ascending only: documents stream straight from the Source, a start
//     cursor becomes the Source's starting point, and the scan stops at the end cursor or limit;
//   - ordered by fields with a limit: a heap keeps the best offset+limit documents;
//   - ordered by fields without a limit: only (order key, name) pairs are sorted and each
//     document is fetched again from the Source while it is emitted.
//
// A vector search (find_nearest) takes the results of one of these plans and keeps the nearest
// in a heap bounded by its limit. A kindless query (no collection id, all descendants) reads
// every document below its parent. CompilePartition and Points split a collection group into
// ranges of names for PartitionQuery, reading the results twice and keeping only the split
// points.
package query
