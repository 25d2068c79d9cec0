package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/tally-dev/tally/emulator/resource"
)

// Keyspace prefixes; see the package documentation for the full layout.
const (
	latestPrefix  byte = 'L'
	historyPrefix byte = 'H'
	metaPrefix    byte = 'M'
)

// Segment encoding bytes. A 0x00 inside a segment is escaped so that the two-byte terminator
// 0x00 0x01 is unambiguous and sorts below every byte a segment can continue with.
const (
	escapeByte   byte = 0x00
	escapedNUL   byte = 0xFF
	terminator   byte = 0x01
	subtreeLimit byte = 0xFF // never starts an encoded segment: valid UTF-8 has no 0xFF byte
)

// historyMarker separates a document's encoded path from the commit time in its history keys.
// It sorts below every child segment, so a document's history precedes its descendants' keys.
var historyMarker = [2]byte{escapeByte, escapeByte}

// historyTimeBytes is the length of the inverted commit time that ends every history key.
const historyTimeBytes = 8

func appendSegment(dst []byte, seg string) []byte {
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c == escapeByte {
			dst = append(dst, escapeByte, escapedNUL)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, escapeByte, terminator)
}

func appendPath(dst []byte, path []string) []byte {
	for _, seg := range path {
		dst = appendSegment(dst, seg)
	}
	return dst
}

// namespace is the encoded database, shared by the L and H keys of all its documents.
func namespace(db resource.Database) []byte {
	return appendSegment(appendSegment(nil, db.Project), db.Database)
}

// latestKey is the L key of a document (or, for an even-length parent, the prefix of its
// children's keys).
func latestKey(ns []byte, path []string) []byte {
	key := make([]byte, 0, 1+len(ns)+pathBytes(path))
	key = append(key, latestPrefix)
	key = append(key, ns...)
	return appendPath(key, path)
}

func pathBytes(path []string) int {
	n := 0
	for _, seg := range path {
		n += len(seg) + 2
	}
	return n
}

// subtreeEnd is the smallest key greater than every key that starts with prefix, when prefix
// ends on a segment boundary.
func subtreeEnd(prefix []byte) []byte {
	end := make([]byte, len(prefix)+1)
	copy(end, prefix)
	end[len(prefix)] = subtreeLimit
	return end
}

// justAfter is the smallest key greater than key.
func justAfter(key []byte) []byte {
	next := make([]byte, len(key)+1)
	copy(next, key)
	return next
}

// historyPrefixOf turns a document's L key into the prefix shared by all its history keys.
func historyPrefixOf(lkey []byte) []byte {
	p := make([]byte, 0, len(lkey)+len(historyMarker)+historyTimeBytes)
	p = append(p, historyPrefix)
	p = append(p, lkey[1:]...)
	return append(p, historyMarker[:]...)
}

// historyEnd is the exclusive upper bound of the history keys sharing hprefix.
func historyEnd(hprefix []byte) []byte {
	end := make([]byte, len(hprefix))
	copy(end, hprefix)
	end[len(end)-1] = terminator
	return end
}

// appendInvertedTime appends a commit time so that newer times sort first. Commit times are
// never negative (Submit enforces it).
func appendInvertedTime(dst []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(dst, ^uint64(t))
}

func historyKey(hprefix []byte, commitTime int64) []byte {
	key := make([]byte, 0, len(hprefix)+historyTimeBytes)
	key = append(key, hprefix...)
	return appendInvertedTime(key, commitTime)
}

// decodeSegment reads one encoded segment from the start of b and returns it with the number of
// bytes it occupied.
func decodeSegment(b []byte) (string, int, error) {
	var unescaped []byte // only used once an escaped NUL is seen
	start := 0
	for i := 0; i < len(b); i++ {
		if b[i] != escapeByte {
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch b[i+1] {
		case terminator:
			if unescaped == nil {
				return string(b[:i]), i + 2, nil
			}
			unescaped = append(unescaped, b[start:i]...)
			return string(unescaped), i + 2, nil
		case escapedNUL:
			unescaped = append(unescaped, b[start:i]...)
			unescaped = append(unescaped, escapeByte)
			i++
			start = i + 1
		default:
			return "", 0, fmt.Errorf("%w: key segment has invalid escape 0x00 0x%02x", ErrCorrupt, b[i+1])
		}
	}
	return "", 0, fmt.Errorf("%w: key segment is not terminated", ErrCorrupt)
}

// decodePath decodes a sequence of encoded segments that fills b exactly.
func decodePath(b []byte) ([]string, error) {
	var path []string
	for len(b) > 0 {
		seg, n, err := decodeSegment(b)
		if err != nil {
			return nil, err
		}
		path = append(path, seg)
		b = b[n:]
	}
	return path, nil
}
