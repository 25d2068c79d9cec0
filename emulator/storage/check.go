package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tally-dev/tally/emulator/resource"
)

// Check walks every key of the store and verifies the invariants of the on-disk format listed
// in the package documentation ("Consistency"). It returns nil for a consistent store; otherwise
// every violation found, joined with errors.Join, each wrapping ErrCorrupt and naming its key,
// together with any error that stopped the walk. It reads one pebble snapshot, so it may run
// while the store serves; it costs a pass over all keys and a point lookup per document with
// history or an expiry time, so it is meant for tests and offline checks, not for every Open.
func (s *Store) Check() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	snap := s.db.NewSnapshot()
	c := &checker{r: snap, expiry: s.expiry}
	err := errors.Join(c.meta(), c.walk(), snap.Close())
	return errors.Join(append(c.violations, err)...)
}

// checker collects the violations of one Check.
type checker struct {
	r          *pebble.Snapshot
	expiry     *Expiry
	durable    int64 // from 'M' "durable"; every stored time is at or below it
	durableOK  bool  // whether durable could be read
	violations []error

	// The document whose history the walk is in, to check that its versions chain up.
	hprefix    []byte
	newer      *header // the version after the next history entry (the latest first); nil if unknown
	newerKnown bool    // whether newer could be read
}

func (c *checker) report(where, format string, args ...any) {
	c.violations = append(c.violations, fmt.Errorf("%w: %s: %s", ErrCorrupt, where, fmt.Sprintf(format, args...)))
}

// detail is the message of a decoding error without the ErrCorrupt prefix, which report adds.
func detail(err error) string {
	return strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": ")
}

// meta checks the 'M' keys: the format version, the durable time and the expiry marker, which
// must match the expiry definition the store was opened with.
func (c *checker) meta() error {
	format, err := c.get(formatKey)
	switch {
	case err != nil:
		return err
	case format == nil:
		c.report("format marker", "missing")
	default:
		if v, n := binary.Uvarint(format); n != len(format) || v != formatVersion {
			c.report("format marker", "holds %x, want uvarint %d", format, formatVersion)
		}
	}
	durable, err := c.get(durableKey)
	switch {
	case err != nil:
		return err
	case durable == nil:
		c.report("durable time", "missing")
	case len(durable) != 8:
		c.report("durable time", "%d bytes, want 8", len(durable))
	default:
		c.durable, c.durableOK = int64(binary.BigEndian.Uint64(durable)), true
	}
	config, err := c.get(expiryConfigKey)
	switch {
	case err != nil:
		return err
	case c.expiry == nil && config != nil:
		c.report("expiry marker", "present (%q), but the store keeps no expiry index", config)
	case c.expiry != nil && config == nil:
		c.report("expiry marker", "missing, but the store keeps an expiry index for %q", c.expiry.Config)
	case c.expiry != nil && string(config) != c.expiry.Config:
		c.report("expiry marker", "holds %q, but the index is kept for %q", config, c.expiry.Config)
	}
	return nil
}

// get returns a copy of key's value, or nil if it is not stored.
func (c *checker) get(key []byte) ([]byte, error) { return getCopy(c.r, key) }

// walk visits every key in order and checks it by its keyspace.
func (c *checker) walk() error {
	it, err := c.r.NewIter(nil)
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if key[0] == metaPrefix {
			if !bytes.Equal(key, formatKey) && !bytes.Equal(key, durableKey) && !bytes.Equal(key, expiryConfigKey) {
				c.report(fmt.Sprintf("key %q", key), "unknown metadata key")
			}
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		switch key[0] {
		case latestPrefix:
			err = c.latest(key, val)
		case historyPrefix:
			err = c.history(key, val)
		case expiryPrefix:
			err = c.expiring(key, val)
		default:
			c.report(fmt.Sprintf("key %q", key), "outside every keyspace")
		}
		if err != nil {
			return errors.Join(err, it.Close())
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// decodeDocKey decodes the part of an L, H or X key that names a document: its database and path,
// which must be what Submit accepts.
func decodeDocKey(b []byte) (resource.Database, []string, error) {
	segs, err := decodePath(b)
	if err != nil {
		return resource.Database{}, nil, err
	}
	return splitDocKey(segs)
}

func splitDocKey(segs []string) (resource.Database, []string, error) {
	if len(segs) < 4 || len(segs)%2 != 0 {
		return resource.Database{}, nil, fmt.Errorf("%d segments, want a project, a database and collection, id pairs", len(segs))
	}
	for i, seg := range segs {
		if seg == "" || !utf8.ValidString(seg) {
			return resource.Database{}, nil, fmt.Errorf("segment %d (%q) is not non-empty valid UTF-8", i, seg)
		}
	}
	return resource.Database{Project: segs[0], Database: segs[1]}, segs[2:], nil
}

// latest checks an L key: a decodable document key and version, without a validUntil time,
// and, for a live version that expires, its expiry key.
func (c *checker) latest(key, val []byte) error {
	db, path, err := decodeDocKey(key[1:])
	if err != nil {
		c.report(fmt.Sprintf("latest key %q", key), "%v", err)
		return nil
	}
	where := "latest version of " + db.DocumentName(path)
	h, body, ok := c.version(where, val)
	if !ok {
		return nil
	}
	if h.hasValidUntil {
		c.report(where, "carries a validUntil time (%d), which only history entries have", h.validUntil)
	}
	if h.updateTime <= 0 {
		c.report(where, "committed at %d, not after 0", h.updateTime)
	}
	if c.expiry == nil || h.deleted {
		return nil
	}
	v, err := decodeVersion(path, h, body)
	if err != nil {
		return nil // reported by version
	}
	at, expires := c.expiry.Of(path, v.Fields)
	if !expires {
		return nil
	}
	found, err := c.get(expiryKey(namespace(db), at, path))
	if err != nil {
		return err
	}
	if found == nil {
		c.report(where, "expires at %d but has no expiry key", at)
	}
	return nil
}

// history checks an H key: a decodable key and version whose commit time is the key's, and,
// with the entries before it (newer, in key order) and the latest version, one chain of
// versions, each valid until the next one's commit.
func (c *checker) history(key, val []byte) error {
	const suffix = len(historyMarker) + historyTimeBytes
	if len(key) < 1+suffix || !bytes.Equal(key[len(key)-suffix:len(key)-historyTimeBytes], historyMarker[:]) {
		c.report(fmt.Sprintf("history key %q", key), "does not end in 0x00 0x00 and a commit time")
		return nil
	}
	db, path, err := decodeDocKey(key[1 : len(key)-suffix])
	if err != nil {
		c.report(fmt.Sprintf("history key %q", key), "%v", err)
		return nil
	}
	commit := int64(^binary.BigEndian.Uint64(key[len(key)-historyTimeBytes:]))
	where := fmt.Sprintf("history entry of %s at %d", db.DocumentName(path), commit)
	if commit < 0 {
		c.report(where, "negative commit time")
	}
	if hprefix := key[:len(key)-historyTimeBytes]; !bytes.Equal(hprefix, c.hprefix) {
		// The first (newest) entry of a document: the latest version comes next in the chain.
		c.hprefix = bytes.Clone(hprefix)
		lkey := append([]byte{latestPrefix}, key[1:len(key)-suffix]...)
		lval, err := c.get(lkey)
		if err != nil {
			return err
		}
		c.newer, c.newerKnown = nil, false
		if lval == nil {
			c.report(where, "the document has no latest version")
		} else if h, _, err := decodeHeader(lval); err == nil {
			c.newer, c.newerKnown = &h, true
		}
	}
	h, _, ok := c.version(where, val)
	if !ok {
		c.newerKnown = false // the chain cannot be followed past an undecodable entry
		return nil
	}
	if h.updateTime != commit {
		c.report(where, "the version says it was committed at %d", h.updateTime)
	}
	if !h.hasValidUntil {
		c.report(where, "lacks its validUntil time")
	} else {
		if h.validUntil <= h.updateTime {
			c.report(where, "valid until %d, not after its own commit", h.validUntil)
		}
		if c.durableOK && h.validUntil > c.durable {
			c.report(where, "valid until %d, after the durable time %d", h.validUntil, c.durable)
		}
		if c.newerKnown && h.validUntil != c.newer.updateTime {
			c.report(where, "valid until %d, but the next version was committed at %d", h.validUntil, c.newer.updateTime)
		}
	}
	if c.newerKnown && !h.deleted && !c.newer.deleted && h.createTime != c.newer.createTime {
		c.report(where, "created at %d, but the next version, of the same document, says %d", h.createTime, c.newer.createTime)
	}
	c.newer = &h
	return nil
}

// version checks what every stored version must satisfy: it decodes, fields included; it was
// committed by the durable time; a live one was created in (0, its commit].
func (c *checker) version(where string, val []byte) (header, []byte, bool) {
	h, body, err := decodeHeader(val)
	if err != nil {
		c.report(where, "%v", detail(err))
		return h, nil, false
	}
	if !h.deleted {
		if _, err := decodeVersion(nil, h, body); err != nil {
			c.report(where, "fields do not decode: %v", detail(err))
		}
		if h.createTime <= 0 || h.createTime > h.updateTime {
			c.report(where, "created at %d, want in (0, commit time %d]", h.createTime, h.updateTime)
		}
	}
	if c.durableOK && h.updateTime > c.durable {
		c.report(where, "committed at %d, after the durable time %d", h.updateTime, c.durable)
	}
	return h, body, true
}

// expiring checks an X key: the store keeps an index, the key decodes and has no value, and
// its document's latest version is live and expires at the key's time.
func (c *checker) expiring(key, val []byte) error {
	where := fmt.Sprintf("expiry key %q", key)
	if c.expiry == nil {
		c.report(where, "the store keeps no expiry index")
	}
	if len(val) != 0 {
		c.report(where, "has a value of %d bytes, want none", len(val))
	}
	project, n, err := decodeSegment(key[1:])
	if err != nil {
		c.report(where, "%v", detail(err))
		return nil
	}
	database, m, err := decodeSegment(key[1+n:])
	if err != nil {
		c.report(where, "%v", detail(err))
		return nil
	}
	rest := key[1+n+m:]
	if len(rest) < 8 {
		c.report(where, "no expiry time after the database")
		return nil
	}
	at := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
	path, err := decodePath(rest[8:])
	if err == nil {
		_, path, err = splitDocKey(append([]string{project, database}, path...))
	}
	if err != nil {
		c.report(where, "%v", err)
		return nil
	}
	db := resource.Database{Project: project, Database: database}
	where = fmt.Sprintf("expiry key of %s at %d", db.DocumentName(path), at)
	lval, err := c.get(latestKey(namespace(db), path))
	if err != nil {
		return err
	}
	if lval == nil {
		c.report(where, "the document has no latest version")
		return nil
	}
	h, body, err := decodeHeader(lval)
	if err != nil {
		return nil // reported with the latest version
	}
	if h.deleted {
		c.report(where, "the document's latest version is a tombstone")
		return nil
	}
	if c.expiry == nil {
		return nil
	}
	v, err := decodeVersion(path, h, body)
	if err != nil {
		return nil // reported with the latest version
	}
	if want, ok := c.expiry.Of(path, v.Fields); !ok {
		c.report(where, "the document does not expire")
	} else if want != at {
		c.report(where, "the document expires at %d", want)
	}
	return nil
}
