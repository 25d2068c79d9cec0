// Package storage keeps the emulator's documents durably in pebble, with every version a read may still need.
//
// # Model
//
// A document's history is a sequence of versions, each current from its commit time until the
// next one's. A version is live (fields, create time, update time) or a tombstone (the document
// was deleted at that time). A read at time t sees the newest version committed at or before t;
// a tombstone reads as a missing document. Times are int64 microseconds since the Unix epoch.
//
// # Keys
//
// A segment (project, database, collection or document id) is encoded as its bytes with every
// 0x00 written as 0x00 0xFF, followed by the terminator 0x00 0x01. A path is the concatenation
// of its encoded segments. This makes byte order equal to document-name order (segment by
// segment, a shorter prefix first), puts a document's key immediately before the keys of its
// descendants, and makes key+0xFF an upper bound of a document's whole subtree: an encoded
// segment never starts with 0xFF because valid UTF-8 has no 0xFF byte.
//
// With ns = enc(project) enc(database), the keyspaces are:
//
//	'L' ns enc(path)                                   latest version of each document (live or tombstone)
//	'H' ns enc(path) 0x00 0x00 ^commit (8 bytes, BE)   a superseded version; newest first
//	'M' "format"                                       format version, uvarint; currently 1
//	'M' "durable"                                      CommitTime of the newest durable batch, 8 bytes BE
//	'X' ns at (8 bytes, BE, sign bit flipped) enc(path) a document expiring at time at (optional; see expiry.go)
//	'M' "expiry"                                       the definition the X keys were built for
//
// In history keys, ^commit is the bitwise complement of the (never negative) commit time, so a
// document's versions sort newest first, and 0x00 0x00 sorts below any child segment, so a
// document's history is one contiguous range that precedes its descendants'. The usual read,
// the latest version, is one point lookup, and a scan at a recent time reads one key per
// document; only a document changed after the read time costs a seek into history.
//
// # Values
//
// Every version, latest or historical, is stored as
//
//	flags     1 byte: bit 0 = tombstone, bit 1 = validUntil present; other bits zero
//	update    signed varint: the commit time of this version
//	create    signed varint: the document's create time
//	validUntil signed varint, history entries only: the commit time of the version that replaced it
//	fields    the rest: a deterministically marshalled google.firestore.v1.MapValue; empty for a tombstone
//
// Open creates the M keys in an empty directory, refuses a directory whose format version is
// not 1, and refuses a non-empty directory without one.
//
// # Durability
//
// Submit only validates and encodes; a single flusher goroutine writes. Each round it takes
// every queued batch (up to Options.MaxGroupBytes, in submission order, which is commit-time
// order), writes their keys and the new 'M' "durable" time as one pebble batch, and applies it
// with pebble.Sync, which returns only after the write-ahead log holding that batch has been
// fsynced. Only then does it advance DurableTime and complete the tickets of that round, so a
// ticket that reports success always refers to synced data, and concurrent commits share one
// fsync. Because one group is one pebble batch, a crash leaves each submitted batch either
// wholly present or wholly absent, and recovery can only keep a prefix of the submitted
// batches.
//
// If a write fails (an error from Apply, or a fatal error reported by pebble) the store is
// failed: the affected tickets and every later Submit, CollectGarbage and DropDatabase return
// an error wrapping ErrWriteFailed, while reads keep working. Reads never look above
// DurableTime, so nothing is read before it is durable. DropDatabase queues its two range
// deletions like a batch and returns once they are synced. Garbage collection writes without
// a sync: a lost deletion only leaves garbage, and the write-ahead log is ordered, so a
// deletion cannot outlive an unsynced batch it depends on.
//
// # Garbage collection
//
// Every commit keeps the replaced version in history, so a document written n times within the
// GC window holds n history entries. CollectGarbage(horizon) removes what no read at or after
// horizon can see: history entries valid until horizon or earlier, and tombstones committed at
// or before horizon together with all their history. Documents that gained history or a
// tombstone are remembered in memory; after Open a background scan of the history keyspace
// (one seek per document) restores that set, so a tombstone written without a previous
// version is forgotten by a restart and stays until the database is dropped.
//
// # Consistency
//
// Store.Check walks every key, as bbolt's Tx.Check does, and reports each violation of what
// the sections above promise:
//
//   - 'M' holds "format" (uvarint 1) and "durable" (8 bytes), and "expiry" exactly when the
//     store keeps an expiry index, holding that index's Config; no other M key, and no key
//     outside the L, H, M and X keyspaces.
//   - Every L, H and X key names a document: a project, a database and collection, id pairs,
//     each segment non-empty valid UTF-8 and encoded as above.
//   - Every version decodes, fields included; it was committed at or before the durable time
//     (a crash keeps a prefix of the batches, each with its durable time); a live one was
//     created in (0, commit]. A latest version has no validUntil, a history entry has one.
//   - Every H entry has its document's L version, and its version's commit time is the one in
//     its key. With the L version, a document's entries form one chain: each entry is valid
//     until the commit of the next newer version (the newest one until the L version's), and
//     consecutive live versions share the document's create time. Garbage collection only cuts
//     off the oldest end of a chain, or drops it whole with its tombstone.
//   - Every X key is empty and has its document's L version, live and, by the store's Expiry,
//     expiring at the key's time; every live L version that expires has its X key.
package storage
