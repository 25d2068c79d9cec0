package storage

import (
	"fmt"
	"unicode/utf8"

	"github.com/tally-dev/tally/emulator/resource"
)

func validateDatabase(db resource.Database) error {
	if db.Project == "" || !utf8.ValidString(db.Project) {
		return fmt.Errorf("%w: database project %q must be non-empty valid UTF-8", ErrInvalid, db.Project)
	}
	if db.Database == "" || !utf8.ValidString(db.Database) {
		return fmt.Errorf("%w: database id %q must be non-empty valid UTF-8", ErrInvalid, db.Database)
	}
	return nil
}

// validateSegments checks what the key encoding relies on: non-empty, valid UTF-8 segments
// (valid UTF-8 never contains the 0xFF subtree limit).
func validateSegments(path []string, what string) error {
	for i, seg := range path {
		if seg == "" {
			return fmt.Errorf("%w: %s segment %d is empty", ErrInvalid, what, i)
		}
		if !utf8.ValidString(seg) {
			return fmt.Errorf("%w: %s segment %d is not valid UTF-8", ErrInvalid, what, i)
		}
	}
	return nil
}

// validateDocumentPath checks a document path: collection, id pairs, at least one.
func validateDocumentPath(path []string, what string) error {
	if len(path) == 0 || len(path)%2 != 0 {
		return fmt.Errorf("%w: %s %v must have a positive even number of segments (collection, id, ...)", ErrInvalid, what, path)
	}
	return validateSegments(path, what)
}

// validateParentPath checks a parent: the root (empty) or a document path.
func validateParentPath(path []string) error {
	if len(path)%2 != 0 {
		return fmt.Errorf("%w: parent %v must have an even number of segments (empty for the root)", ErrInvalid, path)
	}
	return validateSegments(path, "parent")
}

func validateCollectionID(id string) error {
	if id == "" || !utf8.ValidString(id) {
		return fmt.Errorf("%w: collection id %q must be non-empty valid UTF-8", ErrInvalid, id)
	}
	return nil
}

// validateWrite checks the invariants the stored history depends on.
func validateWrite(i int, w *Write, commitTime int64) error {
	if err := validateDatabase(w.DB); err != nil {
		return fmt.Errorf("writes[%d]: %w", i, err)
	}
	if err := validateDocumentPath(w.Path, fmt.Sprintf("writes[%d].Path", i)); err != nil {
		return err
	}
	next := &w.Next
	if next.UpdateTime != commitTime {
		return fmt.Errorf("%w: writes[%d].Next.UpdateTime is %d, expected the batch CommitTime %d", ErrInvalid, i, next.UpdateTime, commitTime)
	}
	if next.Deleted && next.Fields != nil {
		return fmt.Errorf("%w: writes[%d].Next is a tombstone and must have nil Fields", ErrInvalid, i)
	}
	if !next.Deleted && (next.CreateTime <= 0 || next.CreateTime > next.UpdateTime) {
		return fmt.Errorf("%w: writes[%d].Next.CreateTime is %d, expected in (0, UpdateTime %d]", ErrInvalid, i, next.CreateTime, next.UpdateTime)
	}
	if prev := w.Prev; prev != nil {
		if prev.UpdateTime < 0 || prev.UpdateTime >= commitTime {
			return fmt.Errorf("%w: writes[%d].Prev.UpdateTime is %d, expected in [0, CommitTime %d)", ErrInvalid, i, prev.UpdateTime, commitTime)
		}
		if prev.Deleted && prev.Fields != nil {
			return fmt.Errorf("%w: writes[%d].Prev is a tombstone and must have nil Fields", ErrInvalid, i)
		}
	}
	return nil
}
