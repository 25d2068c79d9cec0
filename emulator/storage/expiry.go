package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/cockroachdb/pebble/v2"

	"github.com/tally-dev/tally/emulator/resource"
)

// The expiry index lets TTL sweeps find expired documents without reading every document of
// their collections. With Options.Expiry set, each live latest version that has an expiry time
// also has a key
//
//	'X' ns at (8 bytes BE, sign bit flipped) enc(path)   empty value
//
// written, moved and removed in the same pebble batch as the version itself, so the index is
// exact at every durable time. 'M' "expiry" holds the Expiry.Config the index was built for;
// Open rebuilds the index when it differs (a new or changed policy set, or a store last opened
// without one), and removes it when the store is opened without Expiry.

// Expiry defines the expiry index.
type Expiry struct {
	// Config names the definition (e.g. the TTL policies it implements); the index is rebuilt
	// at Open when it changes.
	Config string
	// Of returns a document's expiry time in µs since the epoch, or ok == false if it has none.
	Of func(path []string, fields map[string]*pb.Value) (at int64, ok bool)
}

// ExpiringDoc is an entry of the expiry index.
type ExpiringDoc struct {
	Path []string
	At   int64 // expiry time, µs
}

const expiryPrefix byte = 'X'

var expiryConfigKey = []byte{metaPrefix, 'e', 'x', 'p', 'i', 'r', 'y'}

// expiryKey is the index key of the document at path (within namespace ns) expiring at at.
func expiryKey(ns []byte, at int64, path []string) []byte {
	key := make([]byte, 0, 1+len(ns)+8+pathBytes(path))
	key = append(key, expiryPrefix)
	key = append(key, ns...)
	key = binary.BigEndian.AppendUint64(key, uint64(at)^(1<<63))
	return appendPath(key, path)
}

// expiryOf is the expiry time of a version, if it is live and has one.
func (e *Expiry) expiryOf(path []string, v *Version) (int64, bool) {
	if v == nil || v.Deleted {
		return 0, false
	}
	return e.Of(path, v.Fields)
}

// addExpiryOps adds to p the index changes of one write: the previous version's key goes, the
// next version's comes, unless both are the same key.
func (e *Expiry) addExpiryOps(p *pending, ns []byte, w *Write) {
	oldAt, hadOld := e.expiryOf(w.Path, w.Prev)
	newAt, hasNew := e.expiryOf(w.Path, &w.Next)
	if hadOld && hasNew && oldAt == newAt {
		return
	}
	if hadOld {
		key := expiryKey(ns, oldAt, w.Path)
		p.ops = append(p.ops, writeOp{key: key, delete: true})
		p.bytes += len(key)
	}
	if hasNew {
		p.add(expiryKey(ns, newAt, w.Path), nil)
	}
}

// Expiring returns the documents of db whose latest version expires at or before until, in
// order of expiry time (then name), starting after the entry after (nil: from the first). It
// reads the newest state, durable or about to be: callers check each document against a
// snapshot before acting on it. Without Options.Expiry nothing is indexed and it yields nothing.
func (s *Store) Expiring(db resource.Database, until int64, after *ExpiringDoc) iter.Seq2[ExpiringDoc, error] {
	return func(yield func(ExpiringDoc, error) bool) {
		if err := validateDatabase(db); err != nil {
			yield(ExpiringDoc{}, err)
			return
		}
		if err := s.enter(); err != nil {
			yield(ExpiringDoc{}, err)
			return
		}
		defer s.leave()
		ns := namespace(db)
		prefix := append([]byte{expiryPrefix}, ns...)
		lower := prefix
		if after != nil {
			lower = justAfter(expiryKey(ns, after.At, after.Path))
		}
		upper := expiryUpperBound(prefix, until)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			yield(ExpiringDoc{}, err)
			return
		}
		defer it.Close()
		for valid := it.First(); valid; valid = it.Next() {
			key := it.Key()[len(prefix):]
			if len(key) < 8 {
				yield(ExpiringDoc{}, fmt.Errorf("%w: expiry key of %d bytes", ErrCorrupt, len(key)))
				return
			}
			path, err := decodePath(key[8:])
			if err != nil {
				yield(ExpiringDoc{}, err)
				return
			}
			if !yield(ExpiringDoc{Path: path, At: int64(binary.BigEndian.Uint64(key) ^ (1 << 63))}, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(ExpiringDoc{}, err)
		}
	}
}

// expiryUpperBound is the smallest key above every index key under prefix expiring at or before
// until: the first key of the next µs, or, for the largest time, the end of prefix.
func expiryUpperBound(prefix []byte, until int64) []byte {
	if until == math.MaxInt64 {
		// prefix ends with a segment terminator, 0x00 0x01; no key under another namespace starts
		// with prefix's bytes and 0x02 in its place.
		end := bytes.Clone(prefix)
		end[len(end)-1]++
		return end
	}
	return binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(until+1)^(1<<63))
}

// ExpiryConfig is the Config of the expiry index the store keeps, "" for none.
func (s *Store) ExpiryConfig() string {
	if s.expiry == nil {
		return ""
	}
	return s.expiry.Config
}

// prepareExpiryIndex makes the index match e (nil: no index) before the store serves: it keeps an
// index built for the same Config, and otherwise removes the index and builds it anew from every
// latest version. The Config marker is written last, so a crash midway rebuilds again.
func prepareExpiryIndex(db *pebble.DB, e *Expiry) error {
	want := ""
	if e != nil {
		want = e.Config
	}
	have, err := getCopy(db, expiryConfigKey)
	if err != nil {
		return err
	}
	if (have != nil) == (e != nil) && string(have) == want {
		// The index (or its absence) already matches, unless a rebuild was killed before it wrote
		// the marker: then index keys remain that no definition keeps up to date.
		if e != nil {
			return nil
		}
		if stray, err := hasKeys(db, []byte{expiryPrefix}, []byte{expiryPrefix + 1}); err != nil || !stray {
			return err
		}
	}
	drop := db.NewBatch()
	defer drop.Close()
	if err := drop.DeleteRange([]byte{expiryPrefix}, []byte{expiryPrefix + 1}, nil); err != nil {
		return err
	}
	if err := drop.Delete(expiryConfigKey, nil); err != nil {
		return err
	}
	if err := db.Apply(drop, pebble.Sync); err != nil {
		return err
	}
	if e == nil {
		return nil
	}
	if err := buildExpiryIndex(db, e); err != nil {
		return fmt.Errorf("storage: building the expiry index: %w", err)
	}
	return db.Set(expiryConfigKey, []byte(want), pebble.Sync)
}

// hasKeys reports whether r holds a key in [lower, upper).
func hasKeys(r pebble.Reader, lower, upper []byte) (found bool, err error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	return it.First(), nil
}

// getCopy returns a copy of key's value in r, or nil if it is not stored.
func getCopy(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// rebuildBatchBytes bounds one pebble batch of a rebuild.
const rebuildBatchBytes = 1 << 20

// buildExpiryIndex writes the index key of every live latest version that expires.
func buildExpiryIndex(db *pebble.DB, e *Expiry) (err error) {
	upper := []byte{latestPrefix + 1}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{latestPrefix}, UpperBound: upper})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	b := db.NewBatch()
	defer func() { b.Close() }()
	// Unsynced: the marker written after the last batch is synced, and the log is ordered.
	flush := func() error {
		if b.Empty() {
			return nil
		}
		if err := db.Apply(b, pebble.NoSync); err != nil {
			return err
		}
		b.Reset()
		return nil
	}
	for valid := it.First(); valid; valid = it.Next() {
		segs, err := decodePath(it.Key()[1:])
		if err != nil {
			return err
		}
		if len(segs) < 4 || len(segs)%2 != 0 {
			return fmt.Errorf("%w: latest key of %d segments", ErrCorrupt, len(segs))
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		h, body, err := decodeHeader(val)
		if err != nil {
			return err
		}
		if h.deleted {
			continue
		}
		path := segs[2:]
		v, err := decodeVersion(path, h, body)
		if err != nil {
			return err
		}
		if at, ok := e.Of(path, v.Fields); ok {
			ns := appendSegment(appendSegment(nil, segs[0]), segs[1])
			if err := b.Set(expiryKey(ns, at, path), nil, nil); err != nil {
				return err
			}
			if b.Len() >= rebuildBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return flush()
}
