package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
)

// An idempotency record is written in the same commit as the request it records, with the
// precondition that it does not exist yet: the commit then applies the request and creates the
// record together, or neither. A repeat of the request finds the record and replays the original
// answer (its commit time is the record's create time) instead of applying anything.
//
// The record keeps the original key (its document id is only a hash) and the request's
// fingerprint, so a key reused for a different request is detected. It also names the commit
// attempt that wrote it: when a commit's answer is lost (the client retries on its own, or the
// connection drops) the store re-reads the records and recognizes its own earlier attempt.
const (
	recordKey         = "key"
	recordFingerprint = "fingerprint"
	recordAttempt     = "attempt"
	recordExpireAt    = "expire_at"
)

// Request kinds, part of every fingerprint so that one key cannot serve two kinds of request.
const (
	kindIncrement = "increment"
	kindReset     = "reset"
	kindBatch     = "batch"
)

func incrementFingerprint(delta int64) string {
	return kindIncrement + ":" + strconv.FormatInt(delta, 10)
}

func resetFingerprint() string { return kindReset }

// batchFingerprint identifies a batch by its per-counter totals, in counter order, so that the
// same increments listed in another order are the same request.
func batchFingerprint(totals map[string]int64) string {
	ids := make([]string, 0, len(totals))
	for id := range totals {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%d:%s=%d\n", len(id), id, totals[id])
	}
	return kindBatch + ":" + hex.EncodeToString(h.Sum(nil))
}

func (s *Counters) recordData(key, fingerprint, attempt string) recordDoc {
	return recordDoc{Key: key, Fingerprint: fingerprint, Attempt: attempt, ExpireAt: s.opts.Now().Add(s.opts.KeyRetention)}
}

// recordDoc is a record as written. A struct rather than a map: the client converts a struct's
// fields from a cached description, a map's through reflection on every entry, which on a hot
// counter costs a few microseconds per increment.
type recordDoc struct {
	Key         string    `firestore:"key"`
	Fingerprint string    `firestore:"fingerprint"`
	Attempt     string    `firestore:"attempt"`
	ExpireAt    time.Time `firestore:"expire_at"`
}

// record is a stored idempotency record.
type record struct {
	key, fingerprint, attempt string
	commitTime                time.Time
}

func recordOf(snap *firestore.DocumentSnapshot) (record, error) {
	d := snap.Data()
	r := record{commitTime: snap.CreateTime}
	var ok1, ok2, ok3 bool
	r.key, ok1 = d[recordKey].(string)
	r.fingerprint, ok2 = d[recordFingerprint].(string)
	r.attempt, ok3 = d[recordAttempt].(string)
	if !ok1 || !ok2 || !ok3 {
		return r, fmt.Errorf("idempotency record %s is malformed", snap.Ref.Path)
	}
	return r, nil
}

// replay answers a request whose key has a record: the original result if the request is the
// same, ErrKeyReused if it differs.
func (r record) replay(key, fingerprint string) (WriteResult, error) {
	if r.key != key {
		// Two keys with one hash: astronomically unlikely, but never silently merge them.
		return WriteResult{}, fmt.Errorf("idempotency key collides with another key's record: %w", ErrKeyReused)
	}
	if r.fingerprint != fingerprint {
		return WriteResult{}, fmt.Errorf("key %q was first used for a different request (%s, not %s): %w",
			key, describe(r.fingerprint), describe(fingerprint), ErrKeyReused)
	}
	return WriteResult{CommitTime: r.commitTime, Duplicate: true}, nil
}

func describe(fingerprint string) string {
	kind, arg, _ := strings.Cut(fingerprint, ":")
	switch kind {
	case kindIncrement:
		return "an increment by " + arg
	case kindReset:
		return "a reset"
	case kindBatch:
		return "a batch increment with other deltas"
	}
	return fingerprint
}

// newAttempt names one commit attempt.
func newAttempt() string { return newGeneration() }

// replayRecord answers a request from its stored record.
func replayRecord(d *firestore.DocumentSnapshot, key, fingerprint string) (WriteResult, error) {
	r, err := recordOf(d)
	if err != nil {
		return WriteResult{}, err
	}
	return r.replay(key, fingerprint)
}
