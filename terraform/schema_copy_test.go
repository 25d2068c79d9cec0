package terraform

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"
)

// TestCommittedSchemaIsTheSharedOne: the provider schema committed under testdata is the one
// beside the repository, where that exists (a clean clone elsewhere has only the committed one).
func TestCommittedSchemaIsTheSharedOne(t *testing.T) {
	t.Parallel()
	shared, err := os.ReadFile(sharedSchemaPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no shared schema at %s to compare with", sharedSchemaPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(defaultSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, committed) {
		t.Errorf("%s differs from %s: copy the shared schema over the committed one", defaultSchemaPath, sharedSchemaPath)
	}
}
