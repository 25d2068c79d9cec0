package shard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"cloud.google.com/go/firestore"
)

// The Firestore layout of a counter:
//
//	counters/{id}                            metadata: id, shard_count, generation (+ reset_time, exact, adaptive)
//	counters/{id}/shards/{n}                 count: this shard's part of the value; generation; attempt
//	counters/{id}/idempotency/{sha256(key)}  a keyed Increment or Reset (see records.go)
//	idempotency/{sha256(key, counter ids)}   a keyed BatchIncrement (see batchRecordID)
//
// The shard documents 0..shard_count-1 are written together with the metadata when a counter is
// created, and by every resize, reset and other change of the metadata (Update of adaptive alone
// is a resize to the same count); increments only update them, conditional on their last update
// time (state.go says why that keeps every server's cache honest). Every change of the metadata
// touching every shard is also what lets a watch pair the two (watch_hub.go). The value is the sum of
// the shard documents that carry the counter's current generation: each create starts a new one,
// so a document left by an earlier version of tally for a deleted incarnation never counts.
// Idempotency records carry expire_at for a TTL policy on the collection group "idempotency".

// The TTL policy that expires idempotency records: Firestore deletes a record once the time in
// its TTLField has passed. Configure it on the database, or give it to the emulator.
const (
	TTLCollectionGroup = recordsCollection
	TTLField           = recordExpireAt
)

const (
	countersCollection = "counters"
	shardsCollection   = "shards"
	recordsCollection  = "idempotency"

	fieldID         = "id"
	fieldShardCount = "shard_count"
	fieldGeneration = "generation"
	fieldResetTime  = "reset_time"
	fieldExact      = "exact"
	// fieldAdaptive marks a counter whose shard count the servers adapt to its load (adaptive.go);
	// absent when off.
	fieldAdaptive = "adaptive"
	fieldCount    = "count"
	// fieldAttempt names, on a shard document, the commit attempt that last wrote it. With the
	// same field on idempotency records it lets the store tell whether a commit whose answer was
	// lost has been applied.
	fieldAttempt = "attempt"
)

func (s *Counters) metaRef(id string) *firestore.DocumentRef {
	return s.client.Collection(countersCollection).Doc(id)
}

func (s *Counters) shardsRef(id string) *firestore.CollectionRef {
	return s.metaRef(id).Collection(shardsCollection)
}

func (s *Counters) shardRef(id string, n int) *firestore.DocumentRef {
	return s.shardsRef(id).Doc(strconv.Itoa(n))
}

// shardRefs are the shard documents from..to-1 of counter id.
func (s *Counters) shardRefs(id string, from, to int) []*firestore.DocumentRef {
	refs := make([]*firestore.DocumentRef, 0, max(to-from, 0))
	for n := from; n < to; n++ {
		refs = append(refs, s.shardRef(id, n))
	}
	return refs
}

// recordsRef is the collection of the records of counter id's keyed Increments and Resets.
func (s *Counters) recordsRef(id string) *firestore.CollectionRef {
	return s.metaRef(id).Collection(recordsCollection)
}

// recordRef is where the record of a keyed Increment or Reset of counter id lives.
func (s *Counters) recordRef(id, key string) *firestore.DocumentRef {
	return s.recordsRef(id).Doc(keyHash(key))
}

// batchRecordRef is where the record of a keyed BatchIncrement of the counters ids lives.
func (s *Counters) batchRecordRef(key string, ids []string) *firestore.DocumentRef {
	return s.client.Collection(recordsCollection).Doc(batchRecordID(key, ids))
}

// batchRecordID derives the document id of a BatchIncrement's record from its key and the set of
// counters it names (ids in any order, repeats ignored): a hash over the key and the sorted,
// distinct ids, each length-prefixed so that no two different (key, set) pairs write the same
// bytes. The record is top-level, one collection for the whole database, while whoever may call
// BatchIncrement is allowed only on the counters it names (internal/auth checks names, not keys):
// with the key alone as id, a caller on other counters could take a key first, so that the
// owner's batch failed with ErrKeyReused, or learn which keys the owner used. Two batches now
// share a record only if they name the same counters, which takes being allowed on all of them.
//
// Builds before this one used sha256(key) as the id; their records are not found under this one.
func batchRecordID(key string, ids []string) string {
	set := slices.Compact(slices.Sorted(slices.Values(ids)))
	h := sha256.New()
	var buf []byte
	field := func(s string) {
		buf = strconv.AppendInt(buf[:0], int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
		buf = append(buf, '\n')
		h.Write(buf)
	}
	field("tally.batch")
	field(key)
	buf = strconv.AppendInt(buf[:0], int64(len(set)), 10)
	buf = append(buf, '\n')
	h.Write(buf)
	for _, id := range set {
		field(id)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keyHash derives a document id from an arbitrary key: keys may be long or contain '/'.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// newGeneration returns a random generation id.
func newGeneration() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b[:])
}

// shardIndex parses a shard document id.
func shardIndex(docID string) (int, error) {
	n, err := strconv.Atoi(docID)
	if err != nil || n < 0 || strconv.Itoa(n) != docID {
		return 0, fmt.Errorf("shard document id %q is not a shard index", docID)
	}
	return n, nil
}
