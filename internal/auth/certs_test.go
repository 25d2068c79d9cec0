package auth

import (
	"os"
	"testing"

	"github.com/tally-dev/tally/internal/testpki"
)

// tlsSetup is a CA, the files of a server certificate it signed, and its bundle as client CA.
type tlsSetup struct {
	ca    *testpki.CA
	files tlsFiles
}

func newTLSSetup(t *testing.T, withClientCA bool) *tlsSetup {
	t.Helper()
	dir := t.TempDir()
	s := &tlsSetup{ca: testpki.NewCA(t, "tally test CA")}
	s.files.certFile, s.files.keyFile = s.ca.Issue(t, testpki.Leaf{Server: true, CN: "tallyd"}).Write(t, dir, "server")
	if withClientCA {
		s.files.clientCAFile = s.ca.WriteCA(t, dir, "client-ca")
	}
	return s
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
