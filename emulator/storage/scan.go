package storage

import (
	"bytes"
	"errors"
	"fmt"
	"iter"

	"github.com/cockroachdb/pebble/v2"
)

// Documents yields the live documents of collection parent/collectionID in document-name order,
// starting strictly after the document path after (nil: from the start). With allDescendants
// it yields every document under parent, at any depth, whose own collection is collectionID
// (a collection group), still in full-name order; an empty collectionID with allDescendants
// yields every document under parent (a kindless query).
func (sn *Snapshot) Documents(parent []string, collectionID string, allDescendants bool, after []string) iter.Seq2[*Version, error] {
	return func(yield func(*Version, error) bool) {
		yield, finish := guard(yield)
		checked := collectionID
		if allDescendants && collectionID == "" {
			checked = "*" // any valid id: the kindless scan names no collection
		}
		finish(sn.scan(parent, checked, after, func(sc *scan) error {
			if allDescendants {
				return sc.group(collectionID, after, yield)
			}
			return sc.children(collectionID, after, false, yield)
		}))
	}
}

// DocumentsShowMissing is Documents(parent, collectionID, false, after) that also yields, as
// Version{Path: p, Deleted: true}, each document that does not exist at the read time but has
// live descendants.
func (sn *Snapshot) DocumentsShowMissing(parent []string, collectionID string, after []string) iter.Seq2[*Version, error] {
	return func(yield func(*Version, error) bool) {
		yield, finish := guard(yield)
		finish(sn.scan(parent, collectionID, after, func(sc *scan) error {
			return sc.children(collectionID, after, true, yield)
		}))
	}
}

// CollectionIDs yields, in byte order, the ids of the collections directly under parent that
// hold at least one live document (at any depth) at the read time, starting strictly after
// after ("" = from the start).
func (sn *Snapshot) CollectionIDs(parent []string, after string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		yield, finish := guard(yield)
		err := validateDatabase(sn.db)
		if err == nil {
			err = validateParentPath(parent)
		}
		if err == nil {
			err = sn.scanValidated(parent, func(sc *scan) error {
				return sc.collectionIDs(after, yield)
			})
		}
		finish(err)
	}
}

// guard wraps a range-over-func yield so that a final error is reported only if the consumer has
// not stopped: calling yield again after it returned false would panic.
func guard[T any](yield func(T, error) bool) (func(T, error) bool, func(error)) {
	stopped := false
	wrapped := func(v T, err error) bool {
		if !yield(v, err) {
			stopped = true
		}
		return !stopped
	}
	finish := func(err error) {
		if err != nil && !stopped {
			var zero T
			yield(zero, err)
		}
	}
	return wrapped, finish
}

// scan is the state of one streaming read: the parent's L key prefix, a reader for history and
// the cursor over L keys.
type scan struct {
	reader
	parent []string
	prefix []byte // L key of parent: the prefix of every key under it
	it     *pebble.Iterator
	steps  int64
}

// scan validates the arguments, admits the read and runs body; body's error (or a failure to
// release pebble resources) is returned.
func (sn *Snapshot) scan(parent []string, collectionID string, after []string, body func(*scan) error) (err error) {
	if err := validateDatabase(sn.db); err != nil {
		return err
	}
	if err := validateParentPath(parent); err != nil {
		return err
	}
	if err := validateCollectionID(collectionID); err != nil {
		return err
	}
	if len(after) > 0 {
		if err := validateDocumentPath(after, "after"); err != nil {
			return err
		}
	}
	return sn.scanValidated(parent, body)
}

// scanValidated runs body over a scan of the already validated parent.
func (sn *Snapshot) scanValidated(parent []string, body func(*scan) error) (err error) {
	if err := sn.s.enter(); err != nil {
		return err
	}
	defer sn.s.leave()
	ns := namespace(sn.db)
	sc := &scan{reader: reader{s: sn.s, ns: ns, at: sn.readTime}, parent: parent, prefix: latestKey(ns, parent)}
	defer func() { err = errors.Join(err, sc.close()) }()
	return body(sc)
}

func (sc *scan) close() error {
	err := sc.reader.close()
	if sc.it != nil {
		err = errors.Join(err, sc.it.Close())
		sc.s.scanSteps.Add(sc.steps)
	}
	return err
}

// open positions a cursor on the first L key in [lower, upper); false when there is none.
func (sc *scan) open(lower, upper []byte) (bool, error) {
	if bytes.Compare(lower, upper) >= 0 {
		return false, nil
	}
	it, err := sc.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	sc.it = it
	sc.steps++
	return it.First(), nil
}

func (sc *scan) next() bool {
	sc.steps++
	return sc.it.Next()
}

// skip moves past every key under prefix, which must end on a segment boundary.
func (sc *scan) skip(prefix []byte) bool {
	sc.steps++
	return sc.it.SeekGE(subtreeEnd(prefix))
}

func (sc *scan) value() ([]byte, error) { return sc.it.ValueAndErr() }

// pathOf decodes the document path of an L key under the scan's parent.
func (sc *scan) pathOf(lkey []byte) ([]string, error) {
	rel, err := decodePath(lkey[len(sc.prefix):])
	if err != nil {
		return nil, err
	}
	path := make([]string, 0, len(sc.parent)+len(rel))
	return append(append(path, sc.parent...), rel...), nil
}

// nextSegment returns the segment right after base in key, and key cut just past it.
func nextSegment(key, base []byte) (string, []byte, error) {
	seg, n, err := decodeSegment(key[len(base):])
	if err != nil {
		return "", nil, err
	}
	return seg, bytes.Clone(key[:len(base)+n]), nil
}

// children walks the direct documents of one collection, skipping each document's subtree
// with a seek unless showMissing needs to look for a live descendant.
func (sc *scan) children(collectionID string, after []string, showMissing bool, yield func(*Version, error) bool) error {
	collection := appendSegment(bytes.Clone(sc.prefix), collectionID)
	lower, upper := collection, subtreeEnd(collection)
	if len(after) > 0 {
		// Descendants of after are not direct children, so resume past its whole subtree.
		if resume := subtreeEnd(latestKey(sc.ns, after)); bytes.Compare(resume, lower) > 0 {
			lower = resume
		}
	}
	valid, err := sc.open(lower, upper)
	for valid && err == nil {
		var docKey []byte
		if _, docKey, err = nextSegment(sc.it.Key(), collection); err != nil {
			break
		}
		found := false
		if bytes.Equal(sc.it.Key(), docKey) {
			var v *Version
			if v, err = sc.liveAt(docKey); err != nil {
				break
			}
			if v != nil {
				if !yield(v, nil) {
					return nil
				}
				found = true
			}
			valid = sc.next()
		}
		if showMissing && !found {
			for valid && bytes.HasPrefix(sc.it.Key(), docKey) {
				var live bool
				if live, err = sc.existsHere(); err != nil || live {
					break
				}
				valid = sc.next()
			}
			if err != nil {
				break
			}
			if valid && bytes.HasPrefix(sc.it.Key(), docKey) {
				var path []string
				if path, err = sc.pathOf(docKey); err != nil {
					break
				}
				if !yield(&Version{Path: path, Deleted: true}, nil) {
					return nil
				}
			}
		}
		if valid && bytes.HasPrefix(sc.it.Key(), docKey) {
			valid = sc.skip(docKey)
		}
	}
	return sc.finish(err)
}

// group walks every document under the parent and keeps those whose own collection matches,
// or all of them when collectionID is empty.
func (sc *scan) group(collectionID string, after []string, yield func(*Version, error) bool) error {
	lower, upper := justAfter(sc.prefix), subtreeEnd(sc.prefix)
	if len(after) > 0 {
		// Descendants of after follow it in name order, so resume right after its own key.
		if resume := justAfter(latestKey(sc.ns, after)); bytes.Compare(resume, lower) > 0 {
			lower = resume
		}
	}
	valid, err := sc.open(lower, upper)
	for ; valid && err == nil; valid = sc.next() {
		key := sc.it.Key()
		var path []string
		if path, err = sc.pathOf(key); err != nil {
			break
		}
		if len(path)%2 != 0 {
			err = fmt.Errorf("%w: latest key names %v, not a document", ErrCorrupt, path)
			break
		}
		if collectionID != "" && path[len(path)-2] != collectionID {
			continue
		}
		var v *Version
		if v, err = sc.liveAt(key); err != nil {
			break
		}
		if v != nil && !yield(v, nil) {
			return nil
		}
	}
	return sc.finish(err)
}

func (sc *scan) collectionIDs(after string, yield func(string, error) bool) error {
	lower, upper := justAfter(sc.prefix), subtreeEnd(sc.prefix)
	if after != "" {
		if resume := subtreeEnd(appendSegment(bytes.Clone(sc.prefix), after)); bytes.Compare(resume, lower) > 0 {
			lower = resume
		}
	}
	valid, err := sc.open(lower, upper)
	for valid && err == nil {
		var id string
		var collection []byte
		if id, collection, err = nextSegment(sc.it.Key(), sc.prefix); err != nil {
			break
		}
		live := false
		for valid && !live && bytes.HasPrefix(sc.it.Key(), collection) {
			if live, err = sc.existsHere(); err != nil {
				break
			}
			if !live {
				valid = sc.next()
			}
		}
		if err != nil {
			break
		}
		if live && !yield(id, nil) {
			return nil
		}
		if valid && bytes.HasPrefix(sc.it.Key(), collection) {
			valid = sc.skip(collection)
		}
	}
	return sc.finish(err)
}

// liveAt resolves the document under the cursor, whose L key is lkey.
func (sc *scan) liveAt(lkey []byte) (*Version, error) {
	val, err := sc.value()
	if err != nil {
		return nil, err
	}
	return sc.live(lkey, val, func() ([]string, error) { return sc.pathOf(lkey) })
}

// existsHere reports whether the document under the cursor is live at the read time.
func (sc *scan) existsHere() (bool, error) {
	val, err := sc.value()
	if err != nil {
		return false, err
	}
	return sc.exists(sc.it.Key(), val)
}

// finish merges a loop's error with the iterator's own.
func (sc *scan) finish(err error) error {
	if err != nil {
		return err
	}
	if sc.it != nil {
		return sc.it.Error()
	}
	return nil
}
