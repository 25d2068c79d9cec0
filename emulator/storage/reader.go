package storage

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// reader resolves documents "as of" one time within one database. It opens its history
// iterator only when a latest version turns out to be newer than the read time.
type reader struct {
	s    *Store
	ns   []byte
	at   int64
	hist *pebble.Iterator
}

func (r *reader) close() error {
	if r.hist == nil {
		return nil
	}
	err := r.hist.Close()
	r.hist = nil
	return err
}

// visible returns the version of the document with L key lkey and latest value lval that is
// current at r.at, or ok == false if the document had none. body aliases iterator memory and is
// valid until the next call.
func (r *reader) visible(lkey, lval []byte) (h header, body []byte, ok bool, err error) {
	h, body, err = decodeHeader(lval)
	if err != nil {
		return h, nil, false, err
	}
	if h.hasValidUntil {
		return h, nil, false, fmt.Errorf("%w: latest version carries a validUntil time", ErrCorrupt)
	}
	if h.updateTime <= r.at {
		return h, body, true, nil
	}
	return r.fromHistory(lkey)
}

// fromHistory finds the newest superseded version committed at or before r.at.
func (r *reader) fromHistory(lkey []byte) (header, []byte, bool, error) {
	if r.at < 0 {
		return header{}, nil, false, nil
	}
	if r.hist == nil {
		lower := append([]byte{historyPrefix}, r.ns...)
		it, err := r.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: subtreeEnd(lower)})
		if err != nil {
			return header{}, nil, false, err
		}
		r.hist = it
	}
	hp := historyPrefixOf(lkey)
	if !r.hist.SeekGE(historyKey(hp, r.at)) {
		return header{}, nil, false, r.hist.Error()
	}
	key := r.hist.Key()
	if !bytes.HasPrefix(key, hp) {
		return header{}, nil, false, nil
	}
	if len(key) != len(hp)+historyTimeBytes {
		return header{}, nil, false, fmt.Errorf("%w: history key of %d bytes, expected %d", ErrCorrupt, len(key), len(hp)+historyTimeBytes)
	}
	val, err := r.hist.ValueAndErr()
	if err != nil {
		return header{}, nil, false, err
	}
	h, body, err := decodeHeader(val)
	if err != nil {
		return h, nil, false, err
	}
	if !h.hasValidUntil {
		return h, nil, false, fmt.Errorf("%w: history entry lacks its validUntil time", ErrCorrupt)
	}
	// A gap in history (a tombstone and its history collected, then a re-creation) means the
	// document did not exist at r.at.
	if h.validUntil <= r.at {
		return h, nil, false, nil
	}
	return h, body, true, nil
}

// live decodes the version current at r.at if it is live; nil when the document is missing then.
func (r *reader) live(lkey, lval []byte, path func() ([]string, error)) (*Version, error) {
	h, body, ok, err := r.visible(lkey, lval)
	if err != nil || !ok || h.deleted {
		return nil, err
	}
	p, err := path()
	if err != nil {
		return nil, err
	}
	return decodeVersion(p, h, body)
}

// exists reports whether the document is live at r.at, without decoding its fields.
func (r *reader) exists(lkey, lval []byte) (bool, error) {
	h, _, ok, err := r.visible(lkey, lval)
	return ok && !h.deleted, err
}

// pointLookup resolves one document; withTombstone also returns a tombstone current at r.at.
func (r *reader) pointLookup(path []string, withTombstone bool) (*Version, error) {
	lkey := latestKey(r.ns, path)
	lval, closer, err := r.s.db.Get(lkey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	h, body, ok, err := r.visible(lkey, lval)
	if err != nil || !ok || (h.deleted && !withTombstone) {
		return nil, err
	}
	return decodeVersion(append([]string(nil), path...), h, body)
}
