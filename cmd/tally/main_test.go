package main

import (
	"testing"

	"github.com/tally-dev/tally/internal/testproc"
)

// TestMain runs the tests through testproc, which removes the binaries that
// the migration test builds.
func TestMain(m *testing.M) { testproc.Main(m) }
